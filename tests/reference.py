"""Float64 NumPy oracles of the JoSE updates and of a whole document (test
oracles, not shipped).

Written the slow, obvious way -- gradient, projection, scaled step, retraction,
one vector at a time -- so that the fused kernel in jose/_core.pyx can be
checked against it.
"""
import numpy as np


def hinge(u, v, n, margin):
    """L = max(0, m - u.v + n.v)."""
    return max(0.0, margin - u @ v + n @ v)


def euclidean_gradients(u, v, n):
    """dL/du, dL/dv, dL/dn of m - u.v + n.v (where the hinge is active)."""
    return -v, n - u, v


def riemannian_step(x, g, factor, alpha):
    """x <- R(x - alpha * factor * (I - x x^T) g), R(y) = y / |y|."""
    direction = -(g - (x @ g) * x)
    y = x + alpha * factor * direction
    return y / np.linalg.norm(y)


def step_factors(u, v, n, g_u, g_v, g_n, rule):
    f, h = u @ v, n @ v
    if rule == "paper":
        # 1 + x.g / |g| for each vector
        return tuple(1.0 + (x @ g) / np.linalg.norm(g)
                     for x, g in ((u, g_u), (v, g_v), (n, g_n)))
    if rule == "reference":
        return 1.0 - f, 1.0 - (f - h), 2.0 * h
    raise ValueError(rule)


def update(u, v, n, alpha, margin, rule, update_words=True):
    """One step on (u, v, n) in float64; returns (u', v', n', loss)."""
    u, v, n = (np.asarray(x, dtype=np.float64) for x in (u, v, n))
    loss = hinge(u, v, n, margin)
    if loss <= 0.0:
        return u, v, n, 0.0
    g_u, g_v, g_n = euclidean_gradients(u, v, n)
    s_u, s_v, s_n = step_factors(u, v, n, g_u, g_v, g_n, rule)
    new_v = riemannian_step(v, g_v, s_v, alpha)
    if not update_words:
        return u, new_v, n, loss
    return (riemannian_step(u, g_u, s_u, alpha), new_v,
            riemannian_step(n, g_n, s_n, alpha), loss)


# -- the joint hinge (the paper's Eq. 4) ---------------------------------------

def joint_hinge(u, v, d, n, margin):
    """L = max(0, m - u.v - u.d + n.v + n.d)."""
    return max(0.0, margin - u @ v - u @ d + n @ v + n @ d)


def joint_gradients(u, v, d, n):
    """dL/du, dL/dv, dL/dd, dL/dn of m - u.v - u.d + n.v + n.d."""
    return -(v + d), n - u, n - u, v + d


def joint_update(u, v, d, n, alpha, margin, rule, update_words=True, alpha_d=None):
    """One step on (u, v, d, n) in float64; returns (u', v', d', n', loss).

    Step factors: "paper" 1 + x.g/|g| for each vector; "reference" jose.c's
    forms with the joint gradients, 1 + x.g (2 x.g for the negative)."""
    u, v, d, n = (np.asarray(x, dtype=np.float64) for x in (u, v, d, n))
    alpha_d = alpha if alpha_d is None else alpha_d
    loss = joint_hinge(u, v, d, n, margin)
    if loss <= 0.0:
        return u, v, d, n, 0.0
    pairs = list(zip((u, v, d, n), joint_gradients(u, v, d, n)))
    if rule == "paper":
        factors = [1.0 + (x @ g) / np.linalg.norm(g) for x, g in pairs]
    elif rule == "reference":
        factors = [1.0 + x @ g for x, g in pairs[:3]] + [2.0 * (n @ pairs[3][1])]
    else:
        raise ValueError(rule)
    rates = (alpha, alpha, alpha_d, alpha)
    new = [riemannian_step(x, g, s, a) for (x, g), s, a in zip(pairs, factors, rates)]
    if not update_words:
        return u, v, new[2], n, loss
    return (*new, loss)


# -- one whole document, with the kernel's random stream --------------------------

MASK = (1 << 64) - 1
MAX_REDRAWS = 32


class SplitMix64:
    """splitmix64 as jose/_core.pyx computes it, seeded from (seed, epoch, doc)."""

    def __init__(self, seed, epoch, doc):
        self.state = seed
        self.state = self.next() ^ epoch
        self.state = self.next() ^ doc
        self.state = self.next()

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return ((self.next() & 0xFFFFFFFF) * n) >> 32

    def word(self, thresh, alias):
        r = self.next()
        i = ((r & 0xFFFFFFFF) * len(thresh)) >> 32
        return i if (r >> 32) < int(thresh[i]) else int(alias[i])

    def negative(self, thresh, alias, positive):
        for _ in range(MAX_REDRAWS):
            w = self.word(thresh, alias)
            if w != positive:
                return w
        return -1


def train_document(U, V, D, doc, doc_id, tag_rows, epoch, tokens_before, keep, thresh,
                   alias, window, negative, margin, alpha, min_alpha, corpus_tokens, epochs,
                   seed, update_rule, objective):
    """Train one document (the first of its batch) into float64 copies of the
    tables, drawing exactly what the kernel draws; returns (U, V, D, stats)."""
    U, V, D = U.copy(), V.copy(), D.copy()
    rng = SplitMix64(seed, epoch, doc_id)
    kept = [w for w in doc if (rng.next() >> 32) < int(keep[w])]
    stats = dict.fromkeys(("word_loss", "word_pairs", "doc_loss", "doc_pairs",
                           "joint_loss", "joint_tuples"), 0)
    stats["kept_words"] = len(kept)
    progress = epoch * corpus_tokens + tokens_before
    for i, w in enumerate(kept):
        rate = alpha * max(min_alpha / alpha,
                           1.0 - (progress + i * len(doc) / len(kept)) / (corpus_tokens * epochs))
        reach = window - rng.below(window) if len(kept) > 1 else 0
        window_ids = [j for j in range(max(0, i - reach), min(len(kept), i + reach + 1)) if j != i]
        if objective == "joint":
            draws = [[[rng.negative(thresh, alias, w) for _ in range(negative)] for _ in tag_rows]
                     for _ in (window_ids or [None])]
            if not window_ids:          # no context: the hinge without its v terms
                for t, negs in zip(tag_rows, draws[0]):
                    for n in negs:
                        if n >= 0:
                            U[w], D[t], U[n], loss = update(U[w], D[t], U[n], rate, margin,
                                                            update_rule)
                            stats["doc_loss"] += loss
                            stats["doc_pairs"] += 1
                continue
            for j, per_tag in zip(window_ids, draws):
                c = kept[j]
                for t, negs in zip(tag_rows, per_tag):
                    for n in negs:
                        if n >= 0:
                            U[w], V[c], D[t], U[n], loss = joint_update(
                                U[w], V[c], D[t], U[n], rate, margin, update_rule)
                            stats["joint_loss"] += loss
                            stats["joint_tuples"] += 1
            continue
        word_negs = [[rng.negative(thresh, alias, kept[j]) for _ in range(negative)]
                     for j in window_ids]
        doc_negs = [[rng.negative(thresh, alias, w) for _ in range(negative)] for _ in tag_rows]
        for j, negs in zip(window_ids, word_negs):
            c = kept[j]
            for n in negs:
                if n >= 0:
                    U[c], V[w], U[n], loss = update(U[c], V[w], U[n], rate, margin, update_rule)
                    stats["word_loss"] += loss
                    stats["word_pairs"] += 1
        for t, negs in zip(tag_rows, doc_negs):
            for n in negs:
                if n >= 0:
                    U[w], D[t], U[n], loss = update(U[w], D[t], U[n], rate, margin, update_rule)
                    stats["doc_loss"] += loss
                    stats["doc_pairs"] += 1
    return U, V, D, stats


# -- inference of one document (U, V frozen) -----------------------------------------

def content_seed(seed, words):
    """The document's seed from the model seed and its word ids (the kernel's
    content_seed)."""
    def out(state):
        rng = SplitMix64.__new__(SplitMix64)
        rng.state = state
        return rng.next()
    h = out(seed)
    for w in words:
        h = out(h ^ (int(w) & 0xFFFFFFFF))
    return out(h ^ len(words))


def start_vector(rng, dim):
    """Normalised Box-Muller Gaussians, drawn as the kernel draws them."""
    d = np.empty(dim)
    c = 0
    while c < dim:
        u1 = ((rng.next() >> 11) + 1.0) / 9007199254740992.0
        u2 = (rng.next() >> 11) / 9007199254740992.0
        r = np.sqrt(-2.0 * np.log(u1))
        d[c] = np.float32(r * np.cos(2 * np.pi * u2))
        if c + 1 < dim:
            d[c + 1] = np.float32(r * np.sin(2 * np.pi * u2))
        c += 2
    return d / np.linalg.norm(d)


#: the kernel's MEAN_START_MIN_NORM
MEAN_START_MIN_NORM = 1e-4


def negative_mean(U, thresh, alias):
    """The mean of a negative's word vector: sum_w p(w) U[w], p the alias
    table's distribution (the kernel's negative_mean)."""
    t = np.minimum(np.asarray(thresh, dtype=np.float64) / 2**32, 1.0)
    p = t.copy()
    np.add.at(p, np.asarray(alias), 1.0 - t)
    return (p / len(p)) @ np.asarray(U, dtype=np.float64)


def mean_start(U, words, shift=None):
    """The normalised sum over the document's tokens of U[w] - shift (the
    plain mean's direction if shift is None), or None when its norm is below
    MEAN_START_MIN_NORM x tokens (the kernel then starts from `start_vector`)."""
    s = np.asarray(U, dtype=np.float64)[np.asarray(words)].sum(axis=0)
    if shift is not None:
        s = s - len(words) * np.asarray(shift)
    norm = np.linalg.norm(s)
    if not norm > MEAN_START_MIN_NORM * len(words):
        return None
    return s / norm


def infer_document(U, words, keep, thresh, alias, negative, margin, alpha, min_alpha_frac,
                   epochs, seed, update_rule, start="centred"):
    """A document's vector fitted with the word-document hinge against frozen
    U, drawing exactly what the kernel's inference draws (float64): the
    start vector (start="centred": the direction of the sum of U[w] - mu
    over the tokens, mu the mean negative; "mean": of the sum of U[w]; a
    random one if that is ~0 or start="random"), then each epoch one draw
    per position for subsampling, then the kept positions' negatives in
    order. The step is `update` of d alone (the kernel's infer_step)."""
    n = len(words)
    if n == 0:
        return np.zeros(U.shape[1])
    doc_seed = content_seed(seed, words)
    d = None
    if start == "centred":
        d = mean_start(U, words, negative_mean(U, thresh, alias))
    elif start == "mean":
        d = mean_start(U, words)
    if d is None:
        d = start_vector(SplitMix64(doc_seed, MASK, 0), U.shape[1])
    U = np.asarray(U, dtype=np.float64)
    for e in range(epochs):
        rng = SplitMix64(doc_seed, e, 0)
        kept = [i for i, w in enumerate(words) if (rng.next() >> 32) < int(keep[w])]
        for i in kept:
            w = words[i]
            negs = [rng.negative(thresh, alias, w) for _ in range(negative)]
            rate = alpha * max(min_alpha_frac, 1.0 - (e * n + i) / (n * epochs))
            for neg in negs:
                if neg >= 0:
                    _, d, _, _ = update(U[w], d, U[neg], rate, margin, update_rule,
                                        update_words=False)
    return d
