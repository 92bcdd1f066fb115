# cython: language_level=3
"""The JoSE training kernel: Riemannian SGD on the unit sphere, without the GIL.

Design (outermost last):
  1. `sphere_step`: one (u, v, u') triple -- the hinge, both update rules, the
     retraction -- in two passes over the three vectors.
  2. `train_document`: one document -- subsampling, the word-context hinge over
     a randomly shrunk window and the word-document hinge, with negatives.
  3. `train_block`: documents of one block in parallel (OpenMP, Hogwild), each
     thread stepping a private copy of the most frequent words' rows of U
     that it folds into the shared table periodically (`hot_merge`).
  4. `infer_document`: fit one new document vector against frozen words.
Python (jose/model.py) validates inputs, owns the tables and the schedule.

Notation: u = word vector (table U), v = context vector (table V) or
document vector (table D), n = negative word u' (table U). Every row is a unit
vector. For one triple the loss is the hinge

    L = max(0, m - u.v + n.v)

As in jose.c, for the word at position i and a word at position j in its
window, the pair is (u = U[w_j], v = V[w_i]), the negative replaces w_j, and
the document hinge pairs U[w_i] with D. So U[w_i] is not pulled ~2 x window x
negative times in a row towards one window's contexts just before it meets its
document; those consecutive steps fall on V[w_i], which documents never see.

and every random draw of a document comes from its own generator, seeded from
(seed, epoch, document), so the draws do not depend on the number of threads.
"""
import numpy as np

cimport cython
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.string cimport memcmp, memcpy
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

ctypedef float real_t

cdef enum:
    RULE_PAPER = 0
    RULE_REFERENCE = 1

# Columns of the per-thread statistics array.
cdef enum:
    STAT_WORD_LOSS = 0
    STAT_WORD_PAIRS = 1
    STAT_DOC_LOSS = 2
    STAT_DOC_PAIRS = 3
    STAT_KEPT_WORDS = 4
    N_STATS = 5

# A negative equal to the positive is redrawn at most this many times (it can
# only keep failing when one word dominates the unigram^0.75 distribution).
cdef int MAX_REDRAWS = 32


def openmp_enabled():
    """Whether this build runs `prange` loops on several threads."""
    return bool(_openmp_enabled())


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define jose_prefetch(p) __builtin_prefetch((p), 1, 3)
    #else
    #define jose_prefetch(p) ((void)(p))
    #endif
    """
    void jose_prefetch(const void* p) nogil


cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int _openmp_enabled(void) { return 1; }
    #else
    static int _openmp_enabled(void) { return 0; }
    #endif
    """
    int _openmp_enabled() nogil


cdef extern from *:
    """
    /* next value of a shared counter, atomically (each call gets a distinct one) */
    static inline long long jose_fetch_add(long long* counter) {
    #if defined(__GNUC__) || defined(__clang__)
        return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    #elif defined(_OPENMP)
        long long v;
        _Pragma("omp atomic capture")
        v = (*counter)++;
        return v;
    #else
        return (*counter)++;
    #endif
    }
    """
    long long jose_fetch_add(long long* counter) nogil


cdef extern from *:
    """
    /* fn(arg) with no other thread inside jose_critical at the same time */
    static void jose_critical(void (*fn)(void*), void* arg) {
    #ifdef _OPENMP
        _Pragma("omp critical(jose_hot_merge)")
        fn(arg);
    #else
        fn(arg);
    #endif
    }
    """
    void jose_critical(void (*fn)(void*) noexcept nogil, void* arg) nogil


# --------------------------------------------------------------------------
# Random numbers: splitmix64 (Steele, Lea & Flood 2014), one state per document.

cdef inline uint64_t rng_next(uint64_t* state) noexcept nogil:
    cdef uint64_t z
    state[0] += <uint64_t>0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t rng_seed(uint64_t seed, uint64_t epoch, uint64_t doc) noexcept nogil:
    """A well-mixed state for document `doc` of `epoch`: each input is folded
    in through splitmix64's output function, not just added to its counter."""
    cdef uint64_t state = seed
    state = rng_next(&state) ^ epoch
    state = rng_next(&state) ^ doc
    return rng_next(&state)


cdef inline uint32_t rng_below(uint64_t r, uint32_t n) noexcept nogil:
    """Map 32 random bits of r onto [0, n) by multiply-shift (Lemire 2019)."""
    return <uint32_t>(((r & 0xFFFFFFFFULL) * <uint64_t>n) >> 32)


# --------------------------------------------------------------------------
# Negative sampling: Walker's alias method, O(1) per draw, 12 bytes per word
# (the reference program keeps a table of 1e8 ints).

def build_alias_table(const double[::1] probs):
    """Vose's alias table for `probs` (non-negative, any positive sum).

    Returns (threshold uint64[V], alias int32[V]): draw a column i uniformly,
    keep it when 32 random bits < threshold[i], else take alias[i].
    """
    cdef Py_ssize_t n = probs.shape[0], i, s, l
    cdef Py_ssize_t n_small = 0, n_large = 0
    cdef double total = 0.0
    for i in range(n):
        if not probs[i] >= 0.0:
            raise ValueError("sampling probabilities must be non-negative")
        total += probs[i]
    if n == 0 or total <= 0.0:
        raise ValueError("sampling probabilities must have a positive sum")
    scaled_arr = np.empty(n, dtype=np.float64)
    small_arr = np.empty(n, dtype=np.intp)
    large_arr = np.empty(n, dtype=np.intp)
    thresh_arr = np.empty(n, dtype=np.uint64)
    alias_arr = np.arange(n, dtype=np.int32)
    cdef double[::1] scaled = scaled_arr
    cdef Py_ssize_t[::1] small = small_arr
    cdef Py_ssize_t[::1] large = large_arr
    cdef uint64_t[::1] thresh = thresh_arr
    cdef int32_t[::1] alias = alias_arr
    cdef double one32 = 4294967296.0
    with nogil:
        for i in range(n):
            scaled[i] = probs[i] * n / total
            if scaled[i] < 1.0:
                small[n_small] = i
                n_small += 1
            else:
                large[n_large] = i
                n_large += 1
        while n_small > 0 and n_large > 0:
            n_small -= 1
            s = small[n_small]
            l = large[n_large - 1]
            thresh[s] = <uint64_t>(scaled[s] * one32)
            alias[s] = <int32_t>l
            # the large column gives away what fills the small one
            scaled[l] = (scaled[l] + scaled[s]) - 1.0
            if scaled[l] < 1.0:
                n_large -= 1
                small[n_small] = l
                n_small += 1
        # leftovers are full columns (up to rounding)
        while n_large > 0:
            n_large -= 1
            thresh[large[n_large]] = <uint64_t>4294967296ULL
        while n_small > 0:
            n_small -= 1
            thresh[small[n_small]] = <uint64_t>4294967296ULL
    return thresh_arr, alias_arr


cdef inline int32_t draw_word(uint64_t* state, const uint64_t* thresh,
                              const int32_t* alias, uint32_t n_words) noexcept nogil:
    cdef uint64_t r = rng_next(state)
    cdef uint32_t i = rng_below(r, n_words)
    if (r >> 32) < thresh[i]:
        return <int32_t>i
    return alias[i]


cdef inline int32_t draw_negative(uint64_t* state, const uint64_t* thresh,
                                  const int32_t* alias, uint32_t n_words,
                                  int32_t positive) noexcept nogil:
    """A negative word unequal to `positive` (redrawn, not skipped); -1 if none."""
    cdef int tries
    cdef int32_t w
    for tries in range(MAX_REDRAWS):
        w = draw_word(state, thresh, alias, n_words)
        if w != positive:
            return w
    return -1


def sample_words(const uint64_t[::1] thresh, const int32_t[::1] alias,
                 Py_ssize_t n, uint64_t seed):
    """Draw n words from an alias table (test shim for the sampler)."""
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    cdef uint64_t state = rng_seed(seed, 0, 0)
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = draw_word(&state, &thresh[0], &alias[0], <uint32_t>thresh.shape[0])
    return out


# --------------------------------------------------------------------------
# One triple: the hinge and the Riemannian step for u, v and n.

cdef inline double sphere_step(real_t* u, real_t* v, real_t* n, int dim,
                               double alpha, double margin, int rule,
                               bint update_words) noexcept nogil:
    """Hinge L = max(0, m - u.v + n.v) and one Riemannian SGD step; returns L.

    Euclidean gradients: dL/du = -v, dL/dn = v, dL/dv = n - u. Their descent
    directions projected onto each tangent plane, (I - x x^T)(-g):
        t_u = v - f u                 with f = u.v
        t_n = h n - v                 with h = n.v
        t_v = (u - n) - (f - h) v
    Step factors s (the step is x + alpha s t, then x <- x / |x|):
        paper      (1 + x.g / |g|):  s_u = 1 - f/|v|,  s_n = 1 + h/|v|,
                                     s_v = 1 - (f - h)/|u - n|
        reference  (jose.c):         s_u = 1 - f,      s_n = 2 h,
                                     s_v = 1 - (f - h)
    The retraction needs |x + a t|^2 = x.x + 2a x.t + a^2 t.t, and every term
    is a combination of the six dot products of u, v and n, so the first pass
    computes those six and the second pass writes all three new vectors,
    already normalised. Using the exact x.x (not 1) keeps rounding drift from
    accumulating: every step lands on the sphere again.
    With update_words false only v moves (inference of a document vector).
    """
    cdef int c
    cdef real_t uu = 0, vv = 0, nn = 0, uv = 0, nv = 0, un = 0
    cdef real_t uc, vc, nc
    for c in range(dim):
        uc = u[c]
        vc = v[c]
        nc = n[c]
        uu += uc * uc
        vv += vc * vc
        nn += nc * nc
        uv += uc * vc
        nv += nc * vc
        un += uc * nc
    cdef double f = uv, h = nv
    cdef double loss = margin - f + h
    if loss <= 0.0:
        return 0.0

    cdef double s_u, s_n, s_v, gnorm
    if rule == RULE_PAPER:
        s_u = 1.0 - f / sqrt(vv)
        s_n = 1.0 + h / sqrt(vv)
        gnorm = <double>uu + nn - 2.0 * un
        s_v = 1.0 - (f - h) / sqrt(gnorm) if gnorm > 1e-12 else 1.0
    else:
        s_u = 1.0 - f
        s_n = 2.0 * h
        s_v = 1.0 - (f - h)
    cdef double a_u = alpha * s_u, a_n = alpha * s_n, a_v = alpha * s_v
    cdef double fh = f - h

    # v.t_v and t_v.t_v from the dot products
    cdef double vt = uv - nv - fh * vv
    cdef double tt = uu + nn - 2.0 * un - 2.0 * fh * (uv - nv) + fh * fh * vv
    cdef real_t k_v = <real_t>(1.0 / sqrt(vv + 2.0 * a_v * vt + a_v * a_v * tt))
    cdef real_t b_v = <real_t>(a_v * k_v)
    cdef real_t c_v = <real_t>((1.0 - a_v * fh) * k_v)
    if not update_words:
        # v <- (v + a_v ((u - n) - fh v)) / |.|
        for c in range(dim):
            v[c] = c_v * v[c] + b_v * (u[c] - n[c])
        return loss

    # u <- (u + a_u (v - f u)) / |.|
    vt = uv - f * uu
    tt = vv - 2.0 * f * uv + f * f * uu
    cdef real_t k_u = <real_t>(1.0 / sqrt(uu + 2.0 * a_u * vt + a_u * a_u * tt))
    cdef real_t c_u = <real_t>((1.0 - a_u * f) * k_u)
    cdef real_t b_u = <real_t>(a_u * k_u)
    # n <- (n + a_n (h n - v)) / |.|
    vt = h * nn - nv
    tt = h * h * nn - 2.0 * h * nv + vv
    cdef real_t k_n = <real_t>(1.0 / sqrt(nn + 2.0 * a_n * vt + a_n * a_n * tt))
    cdef real_t c_n = <real_t>((1.0 + a_n * h) * k_n)
    cdef real_t b_n = <real_t>(a_n * k_n)
    for c in range(dim):
        uc = u[c]
        vc = v[c]
        nc = n[c]
        u[c] = c_u * uc + b_u * vc
        n[c] = c_n * nc - b_n * vc
        v[c] = c_v * vc + b_v * (uc - nc)
    return loss


def sphere_step_py(real_t[::1] u, real_t[::1] v, real_t[::1] n, double alpha,
                   double margin, str rule="paper", bint update_words=True):
    """Test shim: one `sphere_step` on float32 arrays, in place; returns the hinge."""
    if not (u.shape[0] == v.shape[0] == n.shape[0]):
        raise ValueError("u, v and n must have the same length")
    return sphere_step(&u[0], &v[0], &n[0], <int>u.shape[0], alpha, margin,
                       rule_code(rule), update_words)


cpdef int rule_code(str rule) except -1:
    if rule == "paper":
        return RULE_PAPER
    if rule == "reference":
        return RULE_REFERENCE
    raise ValueError(f"update_rule must be 'paper' or 'reference', not {rule!r}")


# --------------------------------------------------------------------------
# One document.

cdef struct Params:
    int dim
    int window
    int negative
    double margin
    int rule
    double alpha0          # starting learning rate
    double min_alpha_frac  # alpha never falls below alpha0 * min_alpha_frac
    double progress_total  # corpus tokens x epochs: where alpha reaches its floor
    uint32_t n_words
    bint train_words       # the word-context hinge
    bint train_docs        # the word-document hinge


cdef struct Tables:
    # The three tables as one thread sees them. With several threads, the
    # n_hot most frequent words (the lowest ids) have their rows of U in a
    # private copy `hot` (see "Hot rows" below); the other rows are shared.
    real_t* U
    real_t* V
    real_t* D
    real_t* hot
    int32_t n_hot


cdef inline real_t* u_row(const Tables* t, int dim, int32_t w) noexcept nogil:
    """Row w of U as this thread updates it: its private copy if w is hot."""
    if w < t.n_hot:
        return t.hot + <int64_t>w * dim
    return t.U + <int64_t>w * dim


cdef inline double learning_rate(const Params* p, double progress) noexcept nogil:
    """alpha decays linearly with the tokens processed over the whole run."""
    cdef double frac = 1.0 - progress / p.progress_total
    if frac < p.min_alpha_frac:
        frac = p.min_alpha_frac
    return p.alpha0 * frac


cdef inline void prefetch_row(const real_t* row, int dim) noexcept nogil:
    """Ask for a row's cache lines ahead of use (it is read, then written)."""
    cdef int off
    for off in range(0, dim, 16):       # 16 floats per 64-byte line
        jose_prefetch(row + off)


cdef inline int32_t* draw_negatives(
        const Params* p, int32_t positive, const Tables* tb, const uint64_t* thresh,
        const int32_t* alias, uint64_t* state, int32_t* out) noexcept nogil:
    """Draw `negative` negatives for `positive` into out, prefetching their rows;
    returns the position after them."""
    cdef int k
    cdef int32_t neg
    for k in range(p.negative):
        neg = draw_negative(state, thresh, alias, p.n_words, positive)
        out[k] = neg
        if neg >= 0:
            prefetch_row(u_row(tb, p.dim, neg), p.dim)
    return out + p.negative


cdef inline int32_t* draw_position(
        const Params* p, const int32_t* kept, int64_t n_kept, int64_t i,
        int64_t n_tags, const Tables* tb, const uint64_t* thresh,
        const int32_t* alias, uint64_t* state, int32_t* draws) noexcept nogil:
    """The random draws of kept position i, in the order the steps use them:
    draws[0] = the window's reach, then the negatives of every (context,
    negative) pair, then those of every (tag, negative) pair (-1: none found).
    Their rows, and those of position i's center and window words, are
    prefetched. Drawing one position ahead of the steps keeps the memory
    latency of random rows off the critical path (with several threads, also
    that of rows another core has just written) and does not change the
    sequence of random numbers, since steps draw none.
    """
    cdef int64_t j, lo, hi
    cdef int t, reach = 0
    cdef int32_t w = kept[i]
    cdef int32_t* out = draws + 1
    prefetch_row(u_row(tb, p.dim, w), p.dim)
    if p.train_words and n_kept > 1:
        prefetch_row(tb.V + <int64_t>w * p.dim, p.dim)
        # window shrunk uniformly to 1..window words on each side
        reach = p.window - <int>rng_below(rng_next(state), p.window)
        lo = i - reach if i >= reach else 0
        hi = i + reach if i + reach < n_kept else n_kept - 1
        for j in range(lo, hi + 1):
            if j == i:
                continue
            prefetch_row(u_row(tb, p.dim, kept[j]), p.dim)
            out = draw_negatives(p, kept[j], tb, thresh, alias, state, out)
    if p.train_docs:
        for t in range(n_tags):
            out = draw_negatives(p, w, tb, thresh, alias, state, out)
    draws[0] = reach
    return draws


cdef int64_t train_document(
        const Params* p, const Tables* tb,         # INOUT: the tables
        const int32_t* words, int64_t n_tokens,    # IN: the document's word ids
        const int32_t* tag_rows, int64_t n_tags,   # IN: its rows of D
        double progress,                           # IN: tokens before it (x epochs)
        const uint64_t* keep, const uint64_t* thresh, const int32_t* alias,
        uint64_t state,                            # IN: this document's RNG state
        int32_t* kept,                             # SCRATCH: n_tokens ids
        int32_t* draws,                            # SCRATCH: 2 x draws_per_position
        int64_t draws_per_position,
        double* stats) noexcept nogil:             # OUT: N_STATS sums, added to
    """Train one document; returns the number of triples stepped."""
    cdef int64_t i, j, lo, hi, n_kept = 0
    cdef int k, t, reach
    cdef int32_t w, neg
    cdef uint64_t r
    cdef double alpha
    # sums kept locally: threads' rows of `stats` share cache lines
    cdef double word_loss = 0.0, word_pairs = 0.0, doc_loss = 0.0, doc_pairs = 0.0
    cdef real_t* u
    cdef real_t* v
    cdef int32_t* cur
    cdef int32_t* nxt
    cdef int dim = p.dim

    # Frequent-word subsampling (word2vec's rule): keep w with probability
    # (sqrt(c_w / (s T)) + 1) s T / c_w, precomputed as a 32-bit threshold.
    for i in range(n_tokens):
        w = words[i]
        r = rng_next(&state)
        if (r >> 32) < keep[w]:
            kept[n_kept] = w
            n_kept += 1
    stats[STAT_KEPT_WORDS] += n_kept
    if n_kept == 0:
        return 0

    nxt = draw_position(p, kept, n_kept, 0, n_tags, tb, thresh, alias, &state, draws)
    for i in range(n_kept):
        cur = nxt
        if i + 1 < n_kept:
            nxt = draw_position(p, kept, n_kept, i + 1, n_tags, tb, thresh, alias, &state,
                                draws + ((i + 1) % 2) * draws_per_position)
        # progress of the i-th kept word, spread evenly over the document
        alpha = learning_rate(p, progress + <double>i * n_tokens / n_kept)
        w = kept[i]
        reach = cur[0]
        cur += 1
        if p.train_words and n_kept > 1:
            # word-context hinge: v = V[w_i], u = U[w_j] for j in the window
            v = tb.V + <int64_t>w * dim
            lo = i - reach if i >= reach else 0
            hi = i + reach if i + reach < n_kept else n_kept - 1
            for j in range(lo, hi + 1):
                if j == i:
                    continue
                u = u_row(tb, dim, kept[j])
                for k in range(p.negative):
                    neg = cur[0]
                    cur += 1
                    if neg < 0:
                        continue
                    word_loss += sphere_step(u, v, u_row(tb, dim, neg), dim, alpha,
                                             p.margin, p.rule, True)
                    word_pairs += 1
        if p.train_docs:
            # word-document hinge: u = U[w_i], v = D[tag]
            u = u_row(tb, dim, w)
            for t in range(n_tags):
                v = tb.D + <int64_t>tag_rows[t] * dim
                for k in range(p.negative):
                    neg = cur[0]
                    cur += 1
                    if neg < 0:
                        continue
                    doc_loss += sphere_step(u, v, u_row(tb, dim, neg), dim, alpha,
                                            p.margin, p.rule, True)
                    doc_pairs += 1
    stats[STAT_WORD_LOSS] += word_loss
    stats[STAT_WORD_PAIRS] += word_pairs
    stats[STAT_DOC_LOSS] += doc_loss
    stats[STAT_DOC_PAIRS] += doc_pairs
    return <int64_t>(word_pairs + doc_pairs)


# --------------------------------------------------------------------------
# Hot rows: each thread's private copy of the most frequent words' rows of U.
#
# Every triple writes three rows, and the rows of frequent words (as window
# words and, from the unigram^0.75 distribution, as negatives) are written by
# every thread all the time. Under plain Hogwild their cache lines then move
# between the cores at almost every step; with the two cores on different
# dies each move costs about a memory access, and two workers ran no faster
# than one (benchmarks/results/scaling.md). So with several threads, each
# thread steps its own copy L of the first n_hot rows of U (ids are sorted by
# frequency) and every sync_pairs triples folds its change into the shared
# table S, from the value B the copy started at:
#
#     S <- (S + (L - B)) / |S + (L - B)|,   then L <- B <- S
#
# The threads' changes add up, as under Hogwild, but reach the other threads
# up to sync_pairs triples late. Merges run one at a time: the threads start a
# block together and step at the same rate, so they tend to merge at the same
# moment, and two merges of one row at once would drop one thread's change.
# Rows a thread left unchanged are only read (L <- B <- S), so their cache
# lines can stay in both cores. One thread shares nothing and uses no copy, so
# its results are those of plain SGD.

cdef void hot_fetch(const real_t* U, real_t* local, real_t* base,
                    int64_t n) noexcept nogil:
    memcpy(local, U, n * sizeof(real_t))
    memcpy(base, U, n * sizeof(real_t))


cdef void hot_merge(real_t* U, real_t* local, real_t* base,
                    int32_t n_hot, int dim) noexcept nogil:
    """Fold one thread's changes to its hot rows into U (see above)."""
    cdef int32_t r
    cdef int c
    cdef real_t* s
    cdef real_t* l
    cdef real_t* b
    cdef real_t x, k
    cdef double norm2
    cdef size_t row_bytes = dim * sizeof(real_t)
    for r in range(n_hot):
        s = U + <int64_t>r * dim
        l = local + <int64_t>r * dim
        b = base + <int64_t>r * dim
        if memcmp(l, b, row_bytes) == 0:
            memcpy(l, s, row_bytes)
            memcpy(b, s, row_bytes)
            continue
        norm2 = 0.0
        for c in range(dim):
            x = s[c] + (l[c] - b[c])
            l[c] = x
            norm2 += x * x
        k = <real_t>(1.0 / sqrt(norm2)) if norm2 > 0.0 else 1.0
        for c in range(dim):
            x = l[c] * k
            s[c] = x
            l[c] = x
            b[c] = x


def hot_merge_py(real_t[:, ::1] U, real_t[:, ::1] local, real_t[:, ::1] base):
    """Test shim: `hot_merge` of one thread's copies (n_hot x dim) into U."""
    if local.shape[0] != base.shape[0] or local.shape[0] > U.shape[0] or not (
            U.shape[1] == local.shape[1] == base.shape[1]):
        raise ValueError("local and base must be n_hot x dim, with n_hot <= len(U)")
    if local.shape[0] > 0:
        hot_merge(&U[0, 0], &local[0, 0], &base[0, 0], <int32_t>local.shape[0],
                  <int>U.shape[1])


cdef struct HotCopy:
    real_t* U
    real_t* local
    real_t* base
    int32_t n_hot
    int dim


cdef void merge_hot_copy(void* arg) noexcept nogil:
    cdef HotCopy* h = <HotCopy*>arg
    hot_merge(h.U, h.local, h.base, h.n_hot, h.dim)


# --------------------------------------------------------------------------
# A block of documents, in parallel.

cdef struct Block:
    # What every thread of one train_block call reads; next_doc is the only
    # field written, atomically.
    const Params* p
    Tables shared             # hot = NULL: the shared tables
    real_t* hot               # n_threads x (2 x n_hot x dim): copies L and B
    int64_t sync_pairs
    const int64_t* doc_ids
    const int32_t* tokens
    const int64_t* offsets
    const int64_t* tag_ptr
    const int32_t* tag_rows
    long long n_docs
    const uint64_t* keep
    const uint64_t* thresh
    const int32_t* alias
    int32_t* scratch
    int64_t scratch_stride
    int32_t* draws
    int64_t draws_stride
    int64_t per_position
    double* stats
    int64_t stats_stride
    double progress_base      # tokens trained before the block (x epochs)
    uint64_t seed
    int epoch
    long long next_doc        # the next document to hand out


cdef void run_worker(Block* b, int tid) noexcept nogil:
    """One thread: take the block's documents one at a time, in order, until
    none is left (dynamic scheduling, so long documents don't leave a
    thread idle)."""
    cdef Tables tb = b.shared
    cdef int dim = b.p.dim
    cdef int64_t hot_len = <int64_t>tb.n_hot * dim
    cdef real_t* base = NULL
    cdef long long d
    cdef int64_t start, end, since_sync = 0
    cdef HotCopy copy
    if tb.n_hot > 0:
        tb.hot = b.hot + tid * 2 * hot_len
        base = tb.hot + hot_len
        hot_fetch(tb.U, tb.hot, base, hot_len)
        copy.U = tb.U
        copy.local = tb.hot
        copy.base = base
        copy.n_hot = tb.n_hot
        copy.dim = dim
    while True:
        d = jose_fetch_add(&b.next_doc)
        if d >= b.n_docs:
            break
        start = b.offsets[d]
        end = b.offsets[d + 1]
        since_sync += train_document(
            b.p, &tb, b.tokens + start, end - start,
            b.tag_rows + b.tag_ptr[d], b.tag_ptr[d + 1] - b.tag_ptr[d],
            b.progress_base + start, b.keep, b.thresh, b.alias,
            rng_seed(b.seed, b.epoch, <uint64_t>b.doc_ids[d]),
            b.scratch + tid * b.scratch_stride, b.draws + tid * b.draws_stride,
            b.per_position, b.stats + tid * b.stats_stride)
        if tb.n_hot > 0 and since_sync >= b.sync_pairs:
            jose_critical(merge_hot_copy, &copy)
            since_sync = 0
    if tb.n_hot > 0:
        jose_critical(merge_hot_copy, &copy)


cpdef int64_t draws_per_position(int window, int negative, int64_t max_tags):
    """Room for one position's draws: the reach, 2 x window x negative word
    negatives and max_tags x negative document negatives."""
    return 1 + (2 * <int64_t>window + max_tags) * negative

def train_block(
        real_t[:, ::1] U, real_t[:, ::1] V, real_t[:, ::1] D,   # INOUT
        const int64_t[::1] doc_ids,       # IN: each document's index in the corpus
        const int32_t[::1] tokens,        # IN: word ids of the block's documents
        const int64_t[::1] offsets,       # IN: n_docs + 1 offsets into tokens
        const int64_t[::1] tag_ptr,       # IN: n_docs + 1 offsets into tag_rows
        const int32_t[::1] tag_rows,      # IN: rows of D for each document
        const uint64_t[::1] keep,         # IN: subsampling thresholds per word
        const uint64_t[::1] thresh,       # IN: alias table for negatives
        const int32_t[::1] alias,         # IN
        int32_t[:, ::1] scratch,          # SCRATCH: n_threads x longest document
        int32_t[:, ::1] draws,            # SCRATCH: n_threads x 2 draws_per_position(...)
        double[:, ::1] stats,             # OUT: n_threads x N_STATS, added to
        int window, int negative, double margin, str update_rule,
        double alpha, double min_alpha_frac,
        int64_t tokens_before, int64_t corpus_tokens,
        int epoch, int epochs, uint64_t seed, int n_threads,
        bint train_words=True, bint train_docs=True,
        real_t[:, ::1] hot=None,          # SCRATCH: n_threads x 2 n_hot x dim
        int n_hot=0, int64_t sync_pairs=0):
    """Train every document of one block; releases the GIL.

    Documents are trained in the block's order (which may be shuffled); the
    learning rate of a token follows its place in that order, tokens_before
    tokens having been trained earlier in this epoch. The random draws of a
    document come from (seed, epoch, doc_ids[i]), so they depend neither on
    the order, the block size nor the number of threads. With n_hot > 0 (and
    several threads) each thread steps a private copy of the first n_hot rows
    of U and folds its changes in every sync_pairs triples (see "Hot rows").
    """
    cdef Params p
    p.dim = <int>U.shape[1]
    p.window = window
    p.negative = negative
    p.margin = margin
    p.rule = rule_code(update_rule)
    p.alpha0 = alpha
    p.min_alpha_frac = min_alpha_frac
    p.progress_total = <double>corpus_tokens * epochs
    p.n_words = <uint32_t>U.shape[0]
    p.train_words = train_words
    p.train_docs = train_docs
    cdef Py_ssize_t n_docs = offsets.shape[0] - 1
    if n_docs <= 0:
        return
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, not {n_threads}")
    if doc_ids.shape[0] != n_docs or tag_ptr.shape[0] != n_docs + 1:
        raise ValueError("doc_ids and tag_ptr must match the block's documents")
    if scratch.shape[0] < n_threads or stats.shape[0] < n_threads or draws.shape[0] < n_threads:
        raise ValueError("scratch, draws and stats need one row per thread")
    if stats.shape[1] < N_STATS:
        raise ValueError(f"stats needs {N_STATS} columns")
    cdef int64_t max_tags = 0, per_position, longest = 0
    cdef Py_ssize_t d
    for d in range(n_docs):
        max_tags = max(max_tags, tag_ptr[d + 1] - tag_ptr[d])
        longest = max(longest, offsets[d + 1] - offsets[d])
    if scratch.shape[1] < longest:
        raise ValueError(f"scratch needs {longest} columns")
    per_position = draws_per_position(window, negative, max_tags)
    if draws.shape[1] < 2 * per_position:
        raise ValueError(f"draws needs {2 * per_position} columns")
    if V.shape[1] != p.dim or D.shape[1] != p.dim:
        raise ValueError("U, V and D must have the same number of columns")
    if n_hot < 0 or n_hot > U.shape[0]:
        raise ValueError(f"n_hot must be in [0, {U.shape[0]}], not {n_hot}")
    if n_threads == 1:
        n_hot = 0                         # nothing is shared: plain SGD
    if n_hot > 0:
        if sync_pairs < 1:
            raise ValueError(f"sync_pairs must be at least 1, not {sync_pairs}")
        if hot is None or hot.shape[0] < n_threads or hot.shape[1] < 2 * n_hot * p.dim:
            raise ValueError(f"hot needs {n_threads} rows of {2 * n_hot * p.dim} values")

    cdef Block b
    b.p = &p
    b.shared.U = &U[0, 0]
    b.shared.V = &V[0, 0]
    b.shared.D = &D[0, 0]
    b.shared.hot = NULL
    b.shared.n_hot = n_hot
    b.hot = &hot[0, 0] if n_hot > 0 else NULL
    b.sync_pairs = sync_pairs
    b.doc_ids = &doc_ids[0]
    b.tokens = &tokens[0] if tokens.shape[0] > 0 else NULL
    b.offsets = &offsets[0]
    b.tag_ptr = &tag_ptr[0]
    b.tag_rows = &tag_rows[0] if tag_rows.shape[0] > 0 else NULL
    b.n_docs = n_docs
    b.keep = &keep[0]
    b.thresh = &thresh[0]
    b.alias = &alias[0]
    b.scratch = &scratch[0, 0]
    b.scratch_stride = scratch.shape[1]
    b.draws = &draws[0, 0]
    b.draws_stride = draws.shape[1]
    b.per_position = per_position
    b.stats = &stats[0, 0]
    b.stats_stride = stats.shape[1]
    b.progress_base = <double>epoch * corpus_tokens + tokens_before
    b.seed = seed
    b.epoch = epoch
    b.next_doc = 0
    cdef int t
    with nogil:
        for t in prange(n_threads, schedule="static", chunksize=1, num_threads=n_threads):
            run_worker(&b, t)


# --------------------------------------------------------------------------
# Inference: new document vectors against frozen word vectors.
#
# One OpenMP loop over documents (dynamic scheduling: lengths vary). Every
# random draw of a document -- its start vector, its subsampling and its
# negatives -- comes from a generator seeded by (seed, the document's word
# ids), so a document's vector does not depend on the batch it is in, its
# place there or the number of threads, and a single document (infer_vector)
# gets exactly its batch row. Documents with no word get a zero row.

from libc.math cimport log, cos, sin
from cython.parallel cimport threadid


cdef extern from *:
    """
    /* the number of threads of the enclosing parallel region (1 outside one) */
    #ifdef _OPENMP
    static int jose_team_size(void) { return omp_get_num_threads(); }
    #else
    static int jose_team_size(void) { return 1; }
    #endif
    """
    int jose_team_size() nogil

cdef uint64_t START_STREAM = 0xFFFFFFFFFFFFFFFFULL   # the start vector's "epoch"


cdef inline uint64_t content_seed(uint64_t seed, const int32_t* words,
                                  int64_t n) noexcept nogil:
    """Fold the word ids (in order) and their number into the seed, each
    through splitmix64's output function."""
    cdef uint64_t state = seed
    cdef uint64_t h = rng_next(&state)
    cdef int64_t i
    for i in range(n):
        state = h ^ <uint64_t><uint32_t>words[i]
        h = rng_next(&state)
    state = h ^ <uint64_t>n
    return rng_next(&state)


def document_seed(uint64_t seed, const int32_t[::1] words):
    """The seed of a document's random draws (exposed for tests)."""
    return content_seed(seed, &words[0] if words.shape[0] > 0 else NULL, words.shape[0])


cdef void random_unit_vector(real_t* d, int dim, uint64_t* state) noexcept nogil:
    """A direction uniform on the sphere: normalised Box-Muller Gaussians."""
    cdef int c = 0
    cdef double u1, u2, r, norm2 = 0.0, two_pi = 6.283185307179586
    cdef double k
    while c < dim:
        u1 = (<double>(rng_next(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0)  # (0, 1]
        u2 = <double>(rng_next(state) >> 11) * (1.0 / 9007199254740992.0)          # [0, 1)
        r = sqrt(-2.0 * log(u1))
        d[c] = <real_t>(r * cos(two_pi * u2))
        norm2 += <double>d[c] * d[c]
        c += 1
        if c < dim:
            d[c] = <real_t>(r * sin(two_pi * u2))
            norm2 += <double>d[c] * d[c]
            c += 1
    if norm2 <= 0.0:           # (never in practice) a fixed direction
        d[0] = 1.0
        norm2 = 1.0
    k = 1.0 / sqrt(norm2)
    for c in range(dim):
        d[c] = <real_t>(d[c] * k)


cdef inline int64_t next_kept(const int32_t* words, int64_t i, int64_t n,
                              const uint64_t* keep, uint64_t* state) noexcept nogil:
    """The first position >= i that subsampling keeps (n if none): one draw
    per position looked at."""
    while i < n:
        if (rng_next(state) >> 32) < keep[words[i]]:
            return i
        i += 1
    return n


cdef inline void draw_doc_negatives(const Params* p, int32_t w, const real_t* U,
                                    const uint64_t* thresh, const int32_t* alias,
                                    uint64_t* state, int32_t* out) noexcept nogil:
    """The negatives of word w into out, their rows and w's prefetched."""
    cdef int k
    cdef int32_t neg
    prefetch_row(U + <int64_t>w * p.dim, p.dim)
    for k in range(p.negative):
        neg = draw_negative(state, thresh, alias, p.n_words, w)
        out[k] = neg
        if neg >= 0:
            prefetch_row(U + <int64_t>neg * p.dim, p.dim)


cdef double infer_one(const Params* p_in, int epochs, const real_t* U, real_t* d,
                      const int32_t* words, int64_t n, const uint64_t* keep,
                      const uint64_t* thresh, const int32_t* alias,
                      uint64_t seed, int32_t* negs) noexcept nogil:
    """Fit one document's vector d (dim values, written) with the
    word-document hinge against frozen U; returns the mean hinge of the last
    epoch (0 for an empty document, whose d is all zeros).

    negs: scratch for 2 x negative ids. The draws of the next kept position
    are made (and its rows prefetched) before the current one steps, so the
    latency of random rows of U stays off the critical path; the steps draw
    nothing, so this order is the document's sequence of random numbers.
    """
    cdef Params p = p_in[0]
    cdef int dim = p.dim, e, k, c
    cdef int64_t i, j
    cdef int32_t w, neg
    cdef int32_t* cur
    cdef int32_t* nxt
    cdef int32_t* tmp
    cdef uint64_t state, doc_seed
    cdef double a, loss_sum = 0.0, pairs = 0.0
    cdef real_t* Uw = <real_t*>U    # the step reads u and n, writes only d
    if n == 0:
        for c in range(dim):
            d[c] = 0.0
        return 0.0
    doc_seed = content_seed(seed, words, n)
    state = rng_seed(doc_seed, START_STREAM, 0)
    random_unit_vector(d, dim, &state)
    p.progress_total = <double>n * epochs
    for e in range(epochs):
        state = rng_seed(doc_seed, <uint64_t>e, 0)
        loss_sum = 0.0
        pairs = 0.0
        cur = negs
        nxt = negs + p.negative
        i = next_kept(words, 0, n, keep, &state)
        if i < n:
            draw_doc_negatives(&p, words[i], U, thresh, alias, &state, cur)
        while i < n:
            j = next_kept(words, i + 1, n, keep, &state)
            if j < n:
                draw_doc_negatives(&p, words[j], U, thresh, alias, &state, nxt)
            w = words[i]
            a = learning_rate(&p, <double>e * n + i)
            for k in range(p.negative):
                neg = cur[k]
                if neg < 0:
                    continue
                loss_sum += sphere_step(Uw + <int64_t>w * dim, d, Uw + <int64_t>neg * dim,
                                        dim, a, p.margin, p.rule, False)
                pairs += 1
            tmp = cur
            cur = nxt
            nxt = tmp
            i = j
    return loss_sum / pairs if pairs > 0 else 0.0


def infer_documents(
        const real_t[:, ::1] U,           # IN: center-word vectors (frozen)
        real_t[:, ::1] out,               # OUT: n_docs x dim, one row per document
        const int32_t[::1] tokens,        # IN: in-vocabulary word ids, concatenated
        const int64_t[::1] offsets,       # IN: n_docs + 1 offsets into tokens
        const uint64_t[::1] keep, const uint64_t[::1] thresh,
        const int32_t[::1] alias,
        int negative, double margin, str update_rule,
        double alpha, double min_alpha_frac, int epochs, uint64_t seed,
        int n_threads=1, double[::1] losses=None, int32_t[:, ::1] scratch=None):
    """Fit one vector per document with the word-document hinge, U frozen;
    releases the GIL and runs the documents on n_threads threads.

    Row i of `out` is document i's unit vector, or zeros if it has no word.
    `losses` (optional, n_docs) receives each document's mean hinge in its
    last epoch. A document's result depends only on (U, its word ids, the
    parameters and seed): not on the batch, its order or n_threads.
    `scratch` (optional): n_threads x at least 2 x negative int32.
    Returns the number of threads that ran the loop.
    """
    cdef Params p
    p.dim = <int>U.shape[1]
    p.window = 0
    p.negative = negative
    p.margin = margin
    p.rule = rule_code(update_rule)
    p.alpha0 = alpha
    p.min_alpha_frac = min_alpha_frac
    p.progress_total = 1.0
    p.n_words = <uint32_t>U.shape[0]
    p.train_words = False
    p.train_docs = True
    cdef Py_ssize_t n_docs = offsets.shape[0] - 1, i
    cdef int64_t n_tokens = tokens.shape[0], t
    if n_docs < 0:
        raise ValueError("offsets must have n_docs + 1 entries")
    if out.shape[0] != n_docs or out.shape[1] != p.dim:
        raise ValueError(f"out must be {n_docs} x {p.dim}, not {out.shape[0]} x {out.shape[1]}")
    if losses is not None and losses.shape[0] != n_docs:
        raise ValueError(f"losses must have {n_docs} entries")
    if epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    if negative < 1:
        raise ValueError(f"negative must be a positive integer, got {negative}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, not {n_threads}")
    if not (alpha > 0.0):
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if U.shape[0] == 0 or keep.shape[0] != U.shape[0] or thresh.shape[0] != U.shape[0] \
            or alias.shape[0] != U.shape[0]:
        raise ValueError("keep, thresh and alias need one entry per row of U (at least one)")
    if n_docs == 0:
        return 1
    if offsets[0] != 0 or offsets[n_docs] != n_tokens:
        raise ValueError(f"offsets must run from 0 to the {n_tokens} tokens")
    for i in range(n_docs):
        if offsets[i + 1] < offsets[i]:
            raise ValueError(f"offsets decrease at document {i}")
    for t in range(n_tokens):
        if tokens[t] < 0 or tokens[t] >= <int32_t>U.shape[0]:
            raise ValueError(f"token {t} has word id {tokens[t]}, outside [0, {U.shape[0]})")
    if scratch is None:
        # a row per thread, on its own cache lines
        scratch = np.zeros((n_threads, 2 * negative + 32), dtype=np.int32)
    if scratch.shape[0] < n_threads or scratch.shape[1] < 2 * negative:
        raise ValueError(f"scratch needs {n_threads} rows of {2 * negative} entries")
    cdef const int32_t* tok = &tokens[0] if n_tokens > 0 else NULL
    cdef double* loss_out = &losses[0] if losses is not None else NULL
    cdef int32_t* negs = &scratch[0, 0]
    cdef int64_t stride = scratch.shape[1]
    cdef double loss
    cdef int team = 1
    with nogil:
        for i in prange(n_docs, schedule="dynamic", num_threads=n_threads):
            team = jose_team_size()
            loss = infer_one(&p, epochs, &U[0, 0], &out[i, 0],
                             tok + offsets[i] if tok != NULL else NULL,
                             offsets[i + 1] - offsets[i], &keep[0], &thresh[0], &alias[0],
                             seed, negs + threadid() * stride)
            if loss_out != NULL:
                loss_out[i] = loss
    return team
