# cython: language_level=3
"""The JoSE training kernel: Riemannian SGD on the unit sphere, without the GIL.

Design (outermost last):
  1. `sphere_step`: one (u, v, u') triple -- the hinge, both update rules, the
     retraction -- in two passes over the three vectors. `joint_step` does the
     same for the paper's joint hinge over (u, v, d, u').
  2. `train_document`: one document -- subsampling, then either the two
     separate hinges (word-context over a randomly shrunk window, and
     word-document) or the joint hinge, with negatives.
  3. `Trainer`: the kernel object. Built once per training run from the
     tables, the samplers, the hyper-parameters and the threading settings; it
     owns each thread's scratch space and statistics, and `Trainer.train(batch,
     epoch, tokens_before)` trains a batch of documents in parallel (OpenMP,
     Hogwild), each thread stepping a private copy of the most frequent words'
     rows of U that it folds into the shared table periodically (`hot_merge`).
  4. `infer_documents`: fit new document vectors against frozen words, in parallel.
Python (jose/model.py) validates parameters and owns the tables and the order
of documents; the kernel checks every batch it is given before it trains it.

Notation: u = word vector (table U), v = context vector (table V) or
document vector (table D), n = negative word u' (table U). Every row is a unit
vector. For one triple the loss is the hinge

    L = max(0, m - u.v + n.v)

Separate objective (jose.c's roles): for the word at position i and a word at
position j in its window, the pair is (u = U[w_j], v = V[w_i]), the negative
replaces w_j, and the document hinge pairs U[w_i] with D. So U[w_i] is not
pulled ~2 x window x negative times in a row towards one window's contexts
just before it meets its document; those consecutive steps fall on V[w_i],
which documents never see.

Joint objective (the paper's Eq. 4, its roles): u = U[w_i] the center word,
v = V[w_j] a context word, d = D[tag], n = U[w'] a negative replacing w_i,

    L = max(0, m - u.v - u.d + n.v + n.d)

Every random draw of a document comes from its own generator, seeded from
(seed, epoch, document), so the draws do not depend on the number of threads.
"""
import numpy as np

cimport cython
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.math cimport isfinite
from libc.string cimport memcmp, memcpy, memset
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

ctypedef float real_t

cdef enum:
    RULE_PAPER = 0
    RULE_REFERENCE = 1

cdef enum:
    OBJECTIVE_SEPARATE = 0
    OBJECTIVE_JOINT = 1

# Columns of the per-thread statistics array.
cdef enum:
    STAT_WORD_LOSS = 0
    STAT_WORD_PAIRS = 1
    STAT_DOC_LOSS = 2
    STAT_DOC_PAIRS = 3
    STAT_KEPT_WORDS = 4
    STAT_JOINT_LOSS = 5
    STAT_JOINT_TUPLES = 6
    N_STATS = 7

STAT_NAMES = ("word_loss", "word_pairs", "doc_loss", "doc_pairs", "kept_words",
              "joint_loss", "joint_tuples")

#: With several threads, each steps a private copy of the rows of U of the
#: most frequent words, this many bytes of them (and of the same words' rows
#: of V), and folds its changes into the shared tables every SYNC_PAIRS steps
#: (see "Hot rows"). Defaults of the Trainer's hot_row_bytes and sync_pairs.
#: 2 MiB ran 1.05x (20NG) and 1.04x (wiki, 300-d) the words/s of 4 MiB at 2
#: workers with 20NG 3-NN macro-F1 0.695-0.700 (4 MiB: 0.695-0.702); 1 MiB ran
#: faster still but gave 0.693-0.695 (benchmarks/results/speed_round3.md).
HOT_ROW_BYTES = 2 << 20
SYNC_PAIRS = 1 << 18

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
    /* 1 in a build for 512-bit vectors (jose._core_avx512): there, one pass
       computing all ten of joint_step's products costs about what the
       hinge's four alone do, and saves the second pass of an active step. */
    #ifdef __AVX512F__
    #define JOSE_WIDE_VECTORS 1
    #else
    #define JOSE_WIDE_VECTORS 0
    #endif
    """
    bint JOSE_WIDE_VECTORS


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


cdef struct AliasEntry:
    # one column of the alias table, its two fields on one cache line
    uint32_t thresh    # keep column i when 32 random bits < thresh
    int32_t alias      # else take this word


def pack_alias_table(const uint64_t[::1] thresh, const int32_t[::1] alias):
    """The (threshold, alias) pairs side by side, as the samplers read them:
    a uint32 array of 2 x V entries. A full column's threshold 2**32 becomes
    2**32 - 1; its alias is the column itself, so every draw is unchanged."""
    cdef Py_ssize_t i, n = alias.shape[0]
    if thresh.shape[0] != n:
        raise ValueError("thresh and alias need one entry per word")
    for i in range(n):
        if <uint32_t>alias[i] >= <uint32_t>n:
            raise ValueError(f"alias[{i}] = {alias[i]} is not a word id")
    packed = np.empty(2 * thresh.shape[0], dtype=np.uint32)
    packed[0::2] = np.minimum(np.asarray(thresh), 0xFFFFFFFF)
    packed[1::2] = np.asarray(alias).view(np.uint32)
    return packed


cdef inline const AliasEntry* alias_entries(const uint32_t[::1] packed) noexcept nogil:
    return <const AliasEntry*>&packed[0]


cdef inline int32_t draw_word(uint64_t* state, const AliasEntry* table,
                              uint32_t n_words) noexcept nogil:
    cdef uint64_t r = rng_next(state)
    cdef uint32_t i = rng_below(r, n_words)
    # i or its alias, chosen without a branch: the choice is a coin flip the
    # branch predictor would miss half the time
    cdef AliasEntry e = table[i]
    cdef int32_t take_i = -<int32_t>((r >> 32) < e.thresh)     # all ones or 0
    return e.alias ^ ((e.alias ^ <int32_t>i) & take_i)


cdef inline int32_t draw_negative(uint64_t* state, const AliasEntry* table, uint32_t n_words,
                                  int32_t positive) noexcept nogil:
    """A negative word unequal to `positive` (redrawn, not skipped); -1 if none."""
    cdef int tries
    cdef int32_t w
    for tries in range(MAX_REDRAWS):
        w = draw_word(state, table, n_words)
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
    cdef const uint32_t[::1] packed = pack_alias_table(thresh, alias)
    for i in range(n):
        o[i] = draw_word(&state, alias_entries(packed), <uint32_t>thresh.shape[0])
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
    is a combination of the six dot products of u, v and n. The first pass
    computes u.v and n.v, all the hinge needs; only if it is active (a
    minority of triples once training is under way) does a second pass
    compute the other four and a third write all three new vectors, already
    normalised. Using the exact x.x (not 1) keeps rounding drift from
    accumulating: every step lands on the sphere again.
    With update_words false only v moves (inference of a document vector).
    """
    cdef int c
    cdef real_t uu = 0, vv = 0, nn = 0, uv = 0, nv = 0, un = 0
    cdef real_t uc, vc, nc
    # Whether the hinge is active needs u.v and n.v alone; the other four
    # products only for a step, so an inactive triple (most of them once
    # training is under way) costs two products, not six.
    for c in range(dim):
        vc = v[c]
        uv += u[c] * vc
        nv += n[c] * vc
    cdef double f = uv, h = nv
    cdef double loss = margin - f + h
    if loss <= 0.0:
        return 0.0
    for c in range(dim):
        uc = u[c]
        vc = v[c]
        nc = n[c]
        uu += uc * uc
        vv += vc * vc
        nn += nc * nc
        un += uc * nc

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


cdef inline double infer_step(const real_t* u, real_t* d, const real_t* n, int dim,
                              double alpha, double margin, int rule,
                              real_t* dd) noexcept nogil:
    """Hinge L = max(0, m - u.d + n.d) and one Riemannian SGD step of d alone
    (inference: u and n are frozen rows of U); returns L. *dd holds d.d on
    entry and receives the new d's d.d.

    `sphere_step` with update_words false, written for what moving d alone
    needs. Every term of its step depends on u and n only through their
    difference g = u - n:
        L   = m - g.d                       (u.d - n.d = g.d)
        t   = g - (g.d) d                   (t_v, with fh = f - h = g.d)
        s   = 1 - g.d / |g|   (paper)       1 - g.d   (reference)
        d  <- (d + a t) / |d + a t|,  a = alpha s
    and the retraction needs
        |d + a t|^2 = d.d + 2a d.t + a^2 t.t,
        d.t = g.d (1 - d.d),   t.t = g.g - 2 (g.d)^2 + (g.d)^2 d.d,
    so three products: g.d (the hinge: the only one an inactive step
    computes), g.g (only for an active step; |g|^2 = u.u + n.n - 2 u.n of
    sphere_step, one product instead of three) and d.d. d.d is not taken as
    1: as in sphere_step, the exact product of the stored float32 d keeps
    rounding drift from accumulating, so every step lands on the sphere
    again. It is summed in the pass that writes the new d and carried to
    the next step (d only changes in an active step), instead of a pass of
    its own per active step. A step thus reads u, n and d twice when
    active (g.d; g.g) and writes d once, with 1 + 1 + 2 multiply-adds per
    coordinate, where sphere_step's makes 2 + 4 + 2.
    """
    cdef int c
    cdef real_t gd = 0, gg = 0, gc, x, dd_new = 0
    for c in range(dim):
        gc = u[c] - n[c]
        gd += gc * d[c]
        gg += gc * gc
    cdef double fh = gd
    cdef double loss = margin - fh
    if loss <= 0.0:
        return 0.0
    cdef double g2 = gg, dd0 = dd[0], s
    if rule == RULE_PAPER:
        s = 1.0 - fh / sqrt(g2) if g2 > 1e-12 else 1.0
    else:
        s = 1.0 - fh
    cdef double a = alpha * s
    cdef double dt = fh * (1.0 - dd0)
    cdef double tt = g2 - 2.0 * fh * fh + fh * fh * dd0
    cdef double k = 1.0 / sqrt(dd0 + 2.0 * a * dt + a * a * tt)
    cdef real_t c_d = <real_t>((1.0 - a * fh) * k)
    cdef real_t b_d = <real_t>(a * k)
    # d <- (d + a (g - (g.d) d)) / |.|
    for c in range(dim):
        x = c_d * d[c] + b_d * (u[c] - n[c])
        d[c] = x
        dd_new += x * x
    dd[0] = dd_new
    return loss


def infer_step_py(real_t[::1] u, real_t[::1] d, real_t[::1] n, double alpha, double margin,
                  str rule="paper"):
    """Test shim: one `infer_step` on float32 arrays (d in place, its d.d
    computed first); returns the hinge."""
    if not (u.shape[0] == d.shape[0] == n.shape[0]):
        raise ValueError("u, d and n must have the same length")
    cdef real_t dd = 0
    cdef int c
    for c in range(d.shape[0]):
        dd += d[c] * d[c]
    return infer_step(&u[0], &d[0], &n[0], <int>u.shape[0], alpha, margin, rule_code(rule), &dd)


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


cpdef int objective_code(str objective) except -1:
    if objective == "separate":
        return OBJECTIVE_SEPARATE
    if objective == "joint":
        return OBJECTIVE_JOINT
    raise ValueError(f"objective must be 'separate' or 'joint', not {objective!r}")


# --------------------------------------------------------------------------
# One quadruple of the joint objective: the hinge and the step for u, v, d, n.

cdef inline double joint_step(real_t* u, real_t* v, real_t* d, real_t* n, int dim,
                              double alpha, double alpha_d, double margin, int rule,
                              bint update_words) noexcept nogil:
    """Hinge L = max(0, m - u.v - u.d + n.v + n.d) and one Riemannian SGD step
    of all four vectors (d's at rate alpha_d); returns L.

    With w = v + d and z = u - n, L = m - u.w + n.w, and the Euclidean
    gradients are dL/du = -w, dL/dn = w, dL/dv = dL/dd = -z. Their descent
    directions projected onto each tangent plane, (I - x x^T)(-g):
        t_u = w - F u        with F = u.w = u.v + u.d
        t_n = H n - w        with H = n.w = n.v + n.d
        t_v = z - G v        with G = v.z = u.v - n.v
        t_d = z - E d        with E = d.z = u.d - n.d
    Step factors s (the step is x + alpha s t, then x <- x / |x|):
        paper      (1 + x.g / |g|):  s_u = 1 - F/|w|,  s_n = 1 + H/|w|,
                                     s_v = 1 - G/|z|,  s_d = 1 - E/|z|
        reference  (jose.c's, with the joint gradients in place of the
                   separate ones: 1 + x.g unnormalised, 2 x.g for the
                   negative):        s_u = 1 - F,      s_n = 2 H,
                                     s_v = 1 - G,      s_d = 1 - E
    Each new vector is c x + b y for its own x and one direction y (w or z),
    and |x + a t|^2 = x.x + 2a x.t + a^2 t.t follows from the ten dot products
    of u, v, d and n; as in `sphere_step`, a first pass computes the four the
    hinge needs, and only for an active hinge a second computes the other six
    and a third writes all four vectors, already normalised (with the exact
    x.x).
    With update_words false only d moves (inference of a document vector).
    """
    cdef int c
    cdef real_t uu = 0, vv = 0, dd = 0, nn = 0, uv = 0, ud = 0, un = 0
    cdef real_t vd = 0, nv = 0, nd = 0
    cdef real_t uc, vc, dc, nc
    # The hinge needs four of the ten products; the other six only for a step
    # (as in sphere_step), except in the build for 512-bit vectors, where one
    # pass computes all ten (JOSE_WIDE_VECTORS; benchmarks/results/speed_round3.md).
    # Each product is summed in the same order either way.
    if JOSE_WIDE_VECTORS:
        for c in range(dim):
            uc = u[c]
            vc = v[c]
            dc = d[c]
            nc = n[c]
            uv += uc * vc
            ud += uc * dc
            nv += nc * vc
            nd += nc * dc
            uu += uc * uc
            vv += vc * vc
            dd += dc * dc
            nn += nc * nc
            un += uc * nc
            vd += vc * dc
    else:
        for c in range(dim):
            uc = u[c]
            vc = v[c]
            dc = d[c]
            nc = n[c]
            uv += uc * vc
            ud += uc * dc
            nv += nc * vc
            nd += nc * dc
    cdef double F = <double>uv + ud, H = <double>nv + nd
    cdef double G = <double>uv - nv, E = <double>ud - nd
    cdef double loss = margin - F + H
    if loss <= 0.0:
        return 0.0
    if not JOSE_WIDE_VECTORS:
        for c in range(dim):
            uc = u[c]
            vc = v[c]
            dc = d[c]
            nc = n[c]
            uu += uc * uc
            vv += vc * vc
            dd += dc * dc
            nn += nc * nc
            un += uc * nc
            vd += vc * dc
    cdef double ww = <double>vv + dd + 2.0 * vd      # |v + d|^2
    cdef double zz = <double>uu + nn - 2.0 * un      # |u - n|^2

    cdef double s_u, s_n, s_v, s_d
    if rule == RULE_PAPER:
        s_u = 1.0 - F / sqrt(ww) if ww > 1e-12 else 1.0
        s_n = 1.0 + H / sqrt(ww) if ww > 1e-12 else 1.0
        s_v = 1.0 - G / sqrt(zz) if zz > 1e-12 else 1.0
        s_d = 1.0 - E / sqrt(zz) if zz > 1e-12 else 1.0
    else:
        s_u = 1.0 - F
        s_n = 2.0 * H
        s_v = 1.0 - G
        s_d = 1.0 - E
    cdef double a_u = alpha * s_u, a_n = alpha * s_n
    cdef double a_v = alpha * s_v, a_d = alpha_d * s_d
    cdef double xt, tt
    # d <- ((1 - a_d E) d + a_d z) / |.|:  d.t_d = (u.d - n.d) - E d.d
    xt = E - E * dd
    tt = zz - 2.0 * E * E + E * E * dd
    cdef real_t k_d = <real_t>(1.0 / sqrt(dd + 2.0 * a_d * xt + a_d * a_d * tt))
    cdef real_t c_d = <real_t>((1.0 - a_d * E) * k_d), b_d = <real_t>(a_d * k_d)
    if not update_words:
        for c in range(dim):
            d[c] = c_d * d[c] + b_d * (u[c] - n[c])
        return loss
    # u <- ((1 - a_u F) u + a_u w) / |.|:  u.t_u = F - F u.u
    xt = F - F * uu
    tt = ww - 2.0 * F * F + F * F * uu
    cdef real_t k_u = <real_t>(1.0 / sqrt(uu + 2.0 * a_u * xt + a_u * a_u * tt))
    cdef real_t c_u = <real_t>((1.0 - a_u * F) * k_u), b_u = <real_t>(a_u * k_u)
    # n <- ((1 + a_n H) n - a_n w) / |.|:  n.t_n = H n.n - H
    xt = H * nn - H
    tt = H * H * nn - 2.0 * H * H + ww
    cdef real_t k_n = <real_t>(1.0 / sqrt(nn + 2.0 * a_n * xt + a_n * a_n * tt))
    cdef real_t c_n = <real_t>((1.0 + a_n * H) * k_n), b_n = <real_t>(a_n * k_n)
    # v <- ((1 - a_v G) v + a_v z) / |.|:  v.t_v = G - G v.v
    xt = G - G * vv
    tt = zz - 2.0 * G * G + G * G * vv
    cdef real_t k_v = <real_t>(1.0 / sqrt(vv + 2.0 * a_v * xt + a_v * a_v * tt))
    cdef real_t c_v = <real_t>((1.0 - a_v * G) * k_v), b_v = <real_t>(a_v * k_v)
    cdef real_t wc, zc
    for c in range(dim):
        uc = u[c]
        vc = v[c]
        dc = d[c]
        nc = n[c]
        wc = vc + dc
        zc = uc - nc
        u[c] = c_u * uc + b_u * wc
        n[c] = c_n * nc - b_n * wc
        v[c] = c_v * vc + b_v * zc
        d[c] = c_d * dc + b_d * zc
    return loss


def joint_step_py(real_t[::1] u, real_t[::1] v, real_t[::1] d, real_t[::1] n,
                  double alpha, double margin, str rule="paper",
                  bint update_words=True, alpha_d=None):
    """Test shim: one `joint_step` on float32 arrays, in place; returns the hinge."""
    if not (u.shape[0] == v.shape[0] == d.shape[0] == n.shape[0]):
        raise ValueError("u, v, d and n must have the same length")
    return joint_step(&u[0], &v[0], &d[0], &n[0], <int>u.shape[0], alpha,
                      alpha if alpha_d is None else alpha_d, margin,
                      rule_code(rule), update_words)


# --------------------------------------------------------------------------
# One document.

cdef struct Params:
    int dim
    int window
    int negative
    double margin
    int rule
    int objective
    double alpha0          # starting learning rate
    double min_alpha_frac  # alpha never falls below alpha0 * min_alpha_frac
    double progress_total  # corpus tokens x epochs: where alpha reaches its floor
    uint32_t n_words
    bint train_words       # the word-context hinge (separate objective)
    bint train_docs        # the word-document hinge (separate objective)


cdef struct Tables:
    # The three tables as one thread sees them. With several threads, the
    # n_hot most frequent words (the lowest ids) have their rows of U in a
    # private copy `hot` (see "Hot rows" below); the other rows are shared.
    real_t* U
    real_t* V
    real_t* D
    real_t* hot
    real_t* hot_v          # the same for V
    int32_t n_hot


cdef extern from *:
    """
    #include <stdint.h>
    /* (w < n_hot ? hot : shared) + w * dim, without a branch: whether a word
       is hot is unpredictable (negatives are drawn at random), and as a branch
       it was mispredicted at every few rows. */
    static inline float* jose_row(float* hot, float* shared, int32_t w, int32_t n_hot,
                                  int dim) {
        if (n_hot == 0)            /* one thread: no copies (a branch always taken) */
            return shared + (int64_t)w * dim;
        uintptr_t mask = (uintptr_t)0 - (uintptr_t)(w < n_hot);
        uintptr_t base = ((uintptr_t)hot & mask) | ((uintptr_t)shared & ~mask);
        return (float*)base + (int64_t)w * dim;
    }
    """
    real_t* jose_row(real_t* hot, real_t* shared, int32_t w, int32_t n_hot, int dim) nogil


cdef inline real_t* v_row(const Tables* t, int dim, int32_t w) noexcept nogil:
    """Row w of V as this thread updates it: its private copy if w is hot."""
    return jose_row(t.hot_v, t.V, w, t.n_hot, dim)


cdef inline real_t* u_row(const Tables* t, int dim, int32_t w) noexcept nogil:
    """Row w of U as this thread updates it: its private copy if w is hot."""
    return jose_row(t.hot, t.U, w, t.n_hot, dim)


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


# Prefetching is spread over the steps: a position's draws queue the rows the
# next position's steps will use (up to QUEUE_CAP; beyond, a row is prefetched
# at once), and each step of the current position prefetches the next
# QUEUE_PER_STEP of them. Prefetching all of a position's rows in one burst
# stalled on the CPU's full miss buffers (perf annotate: ~45% of the drawing's
# time sat on prefetch instructions at 300-d); spread out, the requests
# overlap the steps' arithmetic. The order of the random draws is unchanged.
cdef enum:
    QUEUE_CAP = 512
    QUEUE_PER_STEP = 2


cdef struct RowQueue:
    const real_t* rows[QUEUE_CAP]
    int n          # rows queued
    int head       # rows prefetched so far


cdef inline void queue_row(RowQueue* q, const real_t* row, int dim) noexcept nogil:
    if q.n < QUEUE_CAP:
        q.rows[q.n] = row
        q.n += 1
    else:
        prefetch_row(row, dim)


cdef inline void prefetch_queued(RowQueue* q, int dim, int k) noexcept nogil:
    """Prefetch the next k queued rows (fewer if fewer are left)."""
    while k > 0 and q.head < q.n:
        prefetch_row(q.rows[q.head], dim)
        q.head += 1
        k -= 1


cdef inline void flush_queue(RowQueue* q, int dim) noexcept nogil:
    """Prefetch every row still queued and empty the queue."""
    prefetch_queued(q, dim, q.n)
    q.n = 0
    q.head = 0


cdef inline int32_t* draw_negatives(
        const Params* p, int32_t positive, const Tables* tb, const AliasEntry* table,
        uint64_t* state, int32_t* out, RowQueue* q) noexcept nogil:
    """Draw `negative` negatives for `positive` into out, queueing their rows
    for prefetching; returns the position after them."""
    cdef int k
    cdef int32_t neg
    for k in range(p.negative):
        neg = draw_negative(state, table, p.n_words, positive)
        out[k] = neg
        if neg >= 0:
            queue_row(q, u_row(tb, p.dim, neg), p.dim)
    return out + p.negative


cdef inline int32_t* draw_position(
        const Params* p, const int32_t* kept, int64_t n_kept, int64_t i,
        int64_t n_tags, const Tables* tb, const AliasEntry* table,
        uint64_t* state, int32_t* draws, RowQueue* q) noexcept nogil:
    """The random draws of kept position i, in the order the steps use them:
    draws[0] = the window's reach, then the negatives (-1: none found).
    Separate objective: those of every (context, negative) pair, then those
    of every (tag, negative) pair. Joint objective: those of every (context,
    tag, negative) tuple, or with no context word (a one-word document) of
    every (tag, negative) pair.
    Their rows, and those of position i's center and window words, are
    queued in q for prefetching (see RowQueue). Drawing one position ahead of the steps keeps the memory
    latency of random rows off the critical path (with several threads, also
    that of rows another core has just written) and does not change the
    sequence of random numbers, since steps draw none.
    """
    cdef int64_t j, lo, hi
    cdef int t, reach = 0
    cdef int32_t w = kept[i]
    cdef int32_t* out = draws + 1
    queue_row(q, u_row(tb, p.dim, w), p.dim)
    if p.objective == OBJECTIVE_JOINT:
        if n_kept > 1:
            reach = p.window - <int>rng_below(rng_next(state), p.window)
            lo = i - reach if i >= reach else 0
            hi = i + reach if i + reach < n_kept else n_kept - 1
            for j in range(lo, hi + 1):
                if j == i:
                    continue
                queue_row(q, v_row(tb, p.dim, kept[j]), p.dim)
                for t in range(n_tags):
                    out = draw_negatives(p, w, tb, table, state, out, q)
        else:
            for t in range(n_tags):
                out = draw_negatives(p, w, tb, table, state, out, q)
        draws[0] = reach
        return draws
    if p.train_words and n_kept > 1:
        queue_row(q, v_row(tb, p.dim, w), p.dim)
        # window shrunk uniformly to 1..window words on each side
        reach = p.window - <int>rng_below(rng_next(state), p.window)
        lo = i - reach if i >= reach else 0
        hi = i + reach if i + reach < n_kept else n_kept - 1
        for j in range(lo, hi + 1):
            if j == i:
                continue
            queue_row(q, u_row(tb, p.dim, kept[j]), p.dim)
            out = draw_negatives(p, kept[j], tb, table, state, out, q)
    if p.train_docs:
        for t in range(n_tags):
            out = draw_negatives(p, w, tb, table, state, out, q)
    draws[0] = reach
    return draws


cpdef int64_t draws_per_position(int window, int negative, int64_t max_tags):
    """Room for one position's draws under either objective: the reach, then
    2 x window x negative word negatives and max_tags x negative document
    negatives (separate), or 2 x window x max_tags x negative (joint)."""
    cdef int64_t tags = max_tags if max_tags > 1 else 1
    return 1 + (2 * <int64_t>window * tags + max_tags) * negative


cdef int64_t train_document(
        const Params* p, const Tables* tb,         # INOUT: the tables
        const int32_t* words, int64_t n_tokens,    # IN: the document's word ids
        const int32_t* tag_rows, int64_t n_tags,   # IN: its rows of D
        double progress,                           # IN: tokens before it (x epochs)
        const uint64_t* keep, const AliasEntry* table,
        uint64_t state,                            # IN: this document's RNG state
        int32_t* kept,                             # SCRATCH: n_tokens ids
        int32_t* draws,                            # SCRATCH: 2 x draws_per_position
        int64_t per_position,
        double* stats) noexcept nogil:             # OUT: N_STATS sums, added to
    """Train one document; returns the number of hinges stepped."""
    cdef int64_t i, j, lo, hi, n_kept = 0
    cdef int k, t, reach
    cdef int32_t w, neg
    cdef uint64_t r
    cdef double alpha
    # sums kept locally: threads' rows of `stats` share cache lines
    cdef double word_loss = 0.0, word_pairs = 0.0, doc_loss = 0.0, doc_pairs = 0.0
    cdef double joint_loss = 0.0, joint_tuples = 0.0
    cdef real_t* u
    cdef real_t* v
    cdef real_t* d
    cdef int32_t* cur
    cdef int32_t* nxt
    cdef int dim = p.dim

    # Frequent-word subsampling (word2vec's rule): keep w with probability
    # (sqrt(c_w / (s T)) + 1) s T / c_w, precomputed as a 32-bit threshold.
    for i in range(n_tokens):       # branch-free: kept or not is unpredictable
        w = words[i]
        r = rng_next(&state)
        kept[n_kept] = w
        n_kept += (r >> 32) < keep[w]
    stats[STAT_KEPT_WORDS] += n_kept
    if n_kept == 0:
        return 0

    cdef RowQueue q
    q.n = 0
    q.head = 0
    nxt = draw_position(p, kept, n_kept, 0, n_tags, tb, table, &state, draws, &q)
    for i in range(n_kept):
        cur = nxt
        flush_queue(&q, dim)        # rows of position i the steps of i - 1 left
        if i + 1 < n_kept:
            nxt = draw_position(p, kept, n_kept, i + 1, n_tags, tb, table, &state,
                                draws + ((i + 1) % 2) * per_position, &q)
        # progress of the i-th kept word, spread evenly over the document
        alpha = learning_rate(p, progress + <double>i * n_tokens / n_kept)
        w = kept[i]
        reach = cur[0]
        cur += 1
        if p.objective == OBJECTIVE_JOINT:
            u = u_row(tb, dim, w)
            if reach == 0:
                # no context word: the joint hinge without its v terms,
                # max(0, m - u.d + n.d)
                for t in range(n_tags):
                    d = tb.D + <int64_t>tag_rows[t] * dim
                    for k in range(p.negative):
                        neg = cur[0]
                        cur += 1
                        if neg < 0:
                            continue
                        prefetch_queued(&q, dim, QUEUE_PER_STEP)
                        doc_loss += sphere_step(u, d, u_row(tb, dim, neg), dim, alpha,
                                                p.margin, p.rule, True)
                        doc_pairs += 1
                continue
            lo = i - reach if i >= reach else 0
            hi = i + reach if i + reach < n_kept else n_kept - 1
            for j in range(lo, hi + 1):
                if j == i:
                    continue
                v = v_row(tb, dim, kept[j])
                for t in range(n_tags):
                    d = tb.D + <int64_t>tag_rows[t] * dim
                    for k in range(p.negative):
                        neg = cur[0]
                        cur += 1
                        if neg < 0:
                            continue
                        prefetch_queued(&q, dim, QUEUE_PER_STEP)
                        joint_loss += joint_step(u, v, d, u_row(tb, dim, neg), dim, alpha,
                                                 alpha, p.margin, p.rule, True)
                        joint_tuples += 1
            continue
        if p.train_words and n_kept > 1:
            # word-context hinge: v = V[w_i], u = U[w_j] for j in the window
            v = v_row(tb, dim, w)
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
                    prefetch_queued(&q, dim, QUEUE_PER_STEP)
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
                    prefetch_queued(&q, dim, QUEUE_PER_STEP)
                    doc_loss += sphere_step(u, v, u_row(tb, dim, neg), dim, alpha,
                                            p.margin, p.rule, True)
                    doc_pairs += 1
    stats[STAT_WORD_LOSS] += word_loss
    stats[STAT_WORD_PAIRS] += word_pairs
    stats[STAT_DOC_LOSS] += doc_loss
    stats[STAT_DOC_PAIRS] += doc_pairs
    stats[STAT_JOINT_LOSS] += joint_loss
    stats[STAT_JOINT_TUPLES] += joint_tuples
    return <int64_t>(word_pairs + doc_pairs + joint_tuples)


# --------------------------------------------------------------------------
# Hot rows: each thread's private copy of the most frequent words' rows of U
# and of V.
#
# Every triple writes three rows, and the rows of frequent words (as window
# words and, from the unigram^0.75 distribution, as negatives) are written by
# every thread all the time. Under plain Hogwild their cache lines then move
# between the cores at almost every step; with the two cores on different
# dies each move costs about a memory access, and two workers ran no faster
# than one (benchmarks/results/scaling.md). So with several threads, each
# thread steps its own copy L of the first n_hot rows of U (ids are sorted by
# frequency) and every sync_pairs steps folds its change into the shared
# table S, from the value B the copy started at:
#
#     S <- (S + (L - B)) / |S + (L - B)|,   then L <- B <- S
#
# The threads' changes add up, as under Hogwild, but reach the other threads
# up to sync_pairs steps late. Fetches and merges run one at a time (one
# critical section): the threads start a batch together and step at the same
# rate, so they tend to merge at the same moment, and two merges of one row at
# once would drop one thread's change; a fetch that read S while another
# thread merged could leave L != B on rows this thread never touched, and its
# next merge would then undo the other thread's change. A fetch also copies
# L to B (not S to B again), so L == B holds whatever S does meanwhile.
# Rows a thread left unchanged are only read (L <- B <- S), so their cache
# lines can stay in both cores. One thread shares nothing and uses no copy, so
# its results are those of plain SGD.
# V's rows of the same words (the context rows the joint objective writes at
# every step, the center rows of the separate one) get the same treatment:
# 2 workers, joint objective, 20 Newsgroups, 3 interleaved rounds: 1.048x
# (1.013-1.076) the words/s of private U rows alone.

cdef void hot_merge(real_t* U, real_t* local, real_t* base,
                    int32_t n_hot, int dim) noexcept nogil:
    """Fold one thread's changes to its hot rows into U (see above). A row
    whose merged sum is ~0 (changes that cancel S) keeps S: normalising it
    would make a row of NaNs."""
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
        if not norm2 > 1e-12:
            memcpy(l, s, row_bytes)
            memcpy(b, s, row_bytes)
            continue
        k = <real_t>(1.0 / sqrt(norm2))
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
    real_t* V
    real_t* local_v
    real_t* base_v
    int32_t n_hot
    int dim


cdef void merge_hot_copy(void* arg) noexcept nogil:
    cdef HotCopy* h = <HotCopy*>arg
    hot_merge(h.U, h.local, h.base, h.n_hot, h.dim)
    hot_merge(h.V, h.local_v, h.base_v, h.n_hot, h.dim)


cdef void fetch_hot_copy(void* arg) noexcept nogil:
    """L <- S, then B <- L, for U and V (inside the critical section, see
    above)."""
    cdef HotCopy* h = <HotCopy*>arg
    cdef size_t n = <size_t>h.n_hot * h.dim * sizeof(real_t)
    memcpy(h.local, h.U, n)
    memcpy(h.base, h.local, n)
    memcpy(h.local_v, h.V, n)
    memcpy(h.base_v, h.local_v, n)


# --------------------------------------------------------------------------
# Per-thread state.

cdef extern from *:
    """
    #include <stdlib.h>
    /* n bytes starting on a 64-byte cache line, or NULL */
    #if defined(_WIN32)
    #include <malloc.h>
    static void* jose_aligned_alloc(size_t n) { return _aligned_malloc(n ? n : 64, 64); }
    static void jose_aligned_free(void* p) { _aligned_free(p); }
    #else
    static void* jose_aligned_alloc(size_t n) {
        void* p = NULL;
        return posix_memalign(&p, 64, n ? n : 64) == 0 ? p : NULL;
    }
    static void jose_aligned_free(void* p) { free(p); }
    #endif
    """
    void* jose_aligned_alloc(size_t n) nogil
    void jose_aligned_free(void* p) nogil


cdef struct ThreadState:
    # One thread's working memory; each buffer starts on a cache line of its
    # own, and `pad` keeps the next thread's state off this one's lines
    # (threads writing next to each other's scratch at every word would share
    # cache lines: false sharing once halved the speed of two workers).
    int32_t* kept          # SCRATCH: the current document's kept word ids
    int32_t* draws         # SCRATCH: two positions' random draws
    real_t* hot            # SCRATCH: private copies L, B of U's hot rows, then V's
    double stats[N_STATS]  # OUT: sums over the documents this thread trained
    char pad[64]


cdef struct Block:
    # What every thread of one Trainer.train call reads; next_doc is the only
    # field written, atomically.
    const Params* p
    Tables shared             # hot = NULL: the shared tables
    ThreadState* threads
    int64_t sync_pairs
    const int64_t* doc_ids
    const int32_t* tokens
    const int64_t* offsets
    const int64_t* tag_ptr
    const int32_t* tag_rows
    long long n_docs
    const uint64_t* keep
    const AliasEntry* table
    int64_t per_position
    double progress_base      # tokens trained before the batch (x epochs)
    uint64_t seed
    int epoch
    long long next_doc        # the next document to hand out


cdef void run_worker(Block* b, int tid) noexcept nogil:
    """One thread: take the batch's documents one at a time, in order, until
    none is left (dynamic scheduling, so long documents don't leave a
    thread idle)."""
    cdef ThreadState* ts = &b.threads[tid]
    cdef Tables tb = b.shared
    cdef long long d
    cdef int64_t start, end, since_sync = 0
    cdef HotCopy copy
    if tb.n_hot > 0:
        tb.hot = ts.hot
        tb.hot_v = ts.hot + 2 * <int64_t>tb.n_hot * b.p.dim
        copy.U = tb.U
        copy.local = ts.hot
        copy.base = ts.hot + <int64_t>tb.n_hot * b.p.dim
        copy.V = tb.V
        copy.local_v = tb.hot_v
        copy.base_v = tb.hot_v + <int64_t>tb.n_hot * b.p.dim
        copy.n_hot = tb.n_hot
        copy.dim = b.p.dim
        jose_critical(fetch_hot_copy, &copy)
    while True:
        d = jose_fetch_add(&b.next_doc)
        if d >= b.n_docs:
            break
        start = b.offsets[d]
        end = b.offsets[d + 1]
        since_sync += train_document(
            b.p, &tb, b.tokens + start, end - start,
            b.tag_rows + b.tag_ptr[d], b.tag_ptr[d + 1] - b.tag_ptr[d],
            b.progress_base + start, b.keep, b.table,
            rng_seed(b.seed, b.epoch, <uint64_t>b.doc_ids[d]),
            ts.kept, ts.draws, b.per_position, ts.stats)
        if tb.n_hot > 0 and since_sync >= b.sync_pairs:
            jose_critical(merge_hot_copy, &copy)
            since_sync = 0
    if tb.n_hot > 0:
        jose_critical(merge_hot_copy, &copy)


# --------------------------------------------------------------------------
# Checks of a batch, one pass before training it.

cdef enum:
    BATCH_OK = 0
    BAD_OFFSETS = 1
    BAD_TAG_PTR = 2
    BAD_TOKEN = 3
    BAD_TAG_ROW = 4


cdef int check_ptr(const int64_t[::1] ptr, Py_ssize_t n_values,
                   Py_ssize_t* where) noexcept nogil:
    """0 if ptr starts at 0, never decreases and ends at n_values; else 1
    with *where = the first bad entry."""
    cdef Py_ssize_t i, n = ptr.shape[0]
    if ptr[0] != 0:
        where[0] = 0
        return 1
    for i in range(1, n):
        if ptr[i] < ptr[i - 1]:
            where[0] = i
            return 1
    if ptr[n - 1] != n_values:
        where[0] = n - 1
        return 1
    return 0


cdef int check_batch(const int32_t[::1] tokens, const int64_t[::1] offsets,
                     const int64_t[::1] tag_ptr, const int32_t[::1] tag_rows,
                     int32_t n_words, int32_t n_rows,
                     Py_ssize_t* where) noexcept nogil:
    """The first problem of a batch (BATCH_OK if none), *where its index."""
    cdef Py_ssize_t i
    if check_ptr(offsets, tokens.shape[0], where):
        return BAD_OFFSETS
    if check_ptr(tag_ptr, tag_rows.shape[0], where):
        return BAD_TAG_PTR
    for i in range(tokens.shape[0]):
        if <uint32_t>tokens[i] >= <uint32_t>n_words:    # negative ids wrap round
            where[0] = i
            return BAD_TOKEN
    for i in range(tag_rows.shape[0]):
        if <uint32_t>tag_rows[i] >= <uint32_t>n_rows:
            where[0] = i
            return BAD_TAG_ROW
    return BATCH_OK


def _int_array(x, dtype, str name):
    """x as a C-contiguous array of exactly `dtype` (no silent casts)."""
    a = np.asarray(x)
    if a.dtype != dtype or a.ndim != 1:
        raise ValueError(f"batch.{name} must be a 1-d {np.dtype(dtype).name} array, "
                         f"not {a.ndim}-d {a.dtype.name}")
    return np.ascontiguousarray(a)


# --------------------------------------------------------------------------
# The kernel object.

cdef class Trainer:
    """Trains batches of documents into the tables U (center words), V
    (contexts) and D (documents), in place, without the GIL.

        trainer = Trainer(U, V, D, keep, thresh, alias, window=10, negative=2,
                          margin=0.15, alpha=0.04, min_alpha=4e-6,
                          corpus_tokens=n_tokens, epochs=20, seed=1, n_threads=2)
        for epoch in range(20):
            trainer.reset_stats()
            for batch in batches:        # doc_ids, tokens, offsets, tag_ptr, tag_rows
                trainer.train(batch, epoch, tokens_before)
            trainer.stats                # {"word_loss": ..., "doc_pairs": ...}

    Built once per training run: the tables (float32, C order; rows of D are
    what batches' tag_rows index), the samplers (keep: subsampling
    thresholds per word; thresh, alias: the negative-sampling alias table),
    the hyper-parameters, the schedule (alpha decays linearly from alpha to
    min_alpha over corpus_tokens x epochs tokens) and the threading settings.
    With n_threads > 1, each thread steps a private copy of the first
    hot_row_bytes of U (the most frequent words) and folds its changes in
    every sync_pairs steps (see "Hot rows"); a build without OpenMP runs one
    thread, and `n_threads` says so.

    The random draws of a document come from (seed, epoch, doc_ids[i]), so
    they depend neither on the order of documents, the batch size nor the
    number of threads; with one thread a run repeats bit for bit.
    """
    cdef real_t[:, ::1] U
    cdef real_t[:, ::1] V
    cdef real_t[:, ::1] D
    cdef const uint64_t[::1] keep
    cdef const uint32_t[::1] table    # thresh and alias packed (pack_alias_table)
    cdef Params p
    cdef ThreadState* threads
    cdef readonly int n_threads
    cdef readonly int n_hot
    cdef readonly int64_t sync_pairs
    cdef readonly uint64_t seed
    cdef readonly int64_t corpus_tokens
    cdef readonly int epochs
    cdef int64_t kept_cap          # longest document the scratch holds
    cdef int64_t draws_cap         # draws per position the scratch holds

    def __cinit__(self):
        self.threads = NULL
        self.n_threads = 0

    def __init__(self, real_t[:, ::1] U, real_t[:, ::1] V, real_t[:, ::1] D,
                 const uint64_t[::1] keep, const uint64_t[::1] thresh,
                 const int32_t[::1] alias, *, int window, int negative, double margin,
                 double alpha, double min_alpha, int64_t corpus_tokens, int epochs,
                 str update_rule="paper", str objective="separate", uint64_t seed=1,
                 int n_threads=1, int64_t hot_row_bytes=HOT_ROW_BYTES,
                 int64_t sync_pairs=SYNC_PAIRS, bint train_words=True,
                 bint train_docs=True):
        cdef Py_ssize_t n_words = U.shape[0], i
        if self.threads != NULL:
            raise RuntimeError("a Trainer is initialised once")
        if n_words < 1 or U.shape[1] < 1:
            raise ValueError("U must have at least one row and one column")
        if n_words >= 2 ** 31 or D.shape[0] >= 2 ** 31:
            raise ValueError("tables are limited to 2**31 - 1 rows (int32 ids)")
        if V.shape[0] != n_words or V.shape[1] != U.shape[1] or D.shape[1] != U.shape[1]:
            raise ValueError(f"U and V must have the same shape and D as many columns "
                             f"(U {U.shape[0]}x{U.shape[1]}, V {V.shape[0]}x{V.shape[1]}, "
                             f"D {D.shape[0]}x{D.shape[1]})")
        if not (keep.shape[0] == thresh.shape[0] == alias.shape[0] == n_words):
            raise ValueError(f"keep, thresh and alias need one entry per word ({n_words}), "
                             f"not {keep.shape[0]}, {thresh.shape[0]}, {alias.shape[0]}")
        for name, value in (("window", window), ("negative", negative), ("epochs", epochs),
                            ("n_threads", n_threads), ("sync_pairs", sync_pairs)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if not 0.0 < margin <= 2.0:
            raise ValueError(f"margin must be in (0, 2], not {margin}")
        if not (0.0 < min_alpha <= alpha and alpha < float("inf")):
            raise ValueError(f"need 0 < min_alpha <= alpha < inf, not alpha={alpha}, "
                             f"min_alpha={min_alpha}")
        if corpus_tokens < 0 or hot_row_bytes < 0:
            raise ValueError("corpus_tokens and hot_row_bytes must be >= 0")
        self.U, self.V, self.D = U, V, D
        self.keep = keep
        self.table = pack_alias_table(thresh, alias)     # checks the alias ids
        self.p.dim = <int>U.shape[1]
        self.p.window = window
        self.p.negative = negative
        self.p.margin = margin
        self.p.rule = rule_code(update_rule)
        self.p.objective = objective_code(objective)
        self.p.alpha0 = alpha
        self.p.min_alpha_frac = min_alpha / alpha
        self.p.progress_total = <double>max(corpus_tokens, 1) * epochs
        self.p.n_words = <uint32_t>n_words
        self.p.train_words = train_words
        self.p.train_docs = train_docs
        self.seed = seed
        self.corpus_tokens = corpus_tokens
        self.epochs = epochs
        self.sync_pairs = sync_pairs
        n_threads = n_threads if _openmp_enabled() else 1
        self.n_hot = 0 if n_threads == 1 else <int>min(
            n_words, hot_row_bytes // (<int64_t>sizeof(real_t) * self.p.dim))
        self.threads = <ThreadState*>jose_aligned_alloc(n_threads * sizeof(ThreadState))
        if self.threads == NULL:
            raise MemoryError()
        memset(self.threads, 0, n_threads * sizeof(ThreadState))
        self.n_threads = n_threads
        for i in range(n_threads):
            if self.n_hot > 0:
                self.threads[i].hot = <real_t*>jose_aligned_alloc(
                    4 * <size_t>self.n_hot * self.p.dim * sizeof(real_t))
                if self.threads[i].hot == NULL:
                    raise MemoryError()
        self._reserve(1, 1)

    def __dealloc__(self):
        cdef int i
        if self.threads == NULL:
            return
        for i in range(self.n_threads):
            jose_aligned_free(self.threads[i].kept)
            jose_aligned_free(self.threads[i].draws)
            jose_aligned_free(self.threads[i].hot)
        jose_aligned_free(self.threads)
        self.threads = NULL

    cdef int _reserve(self, int64_t longest, int64_t per_position) except -1:
        """Grow every thread's scratch to hold a document of `longest` tokens
        and two positions of `per_position` draws."""
        cdef int i
        if longest > self.kept_cap:
            longest = max(longest, 2 * self.kept_cap)
            for i in range(self.n_threads):
                jose_aligned_free(self.threads[i].kept)
                self.threads[i].kept = <int32_t*>jose_aligned_alloc(longest * sizeof(int32_t))
                if self.threads[i].kept == NULL:
                    raise MemoryError()
            self.kept_cap = longest
        if per_position > self.draws_cap:
            for i in range(self.n_threads):
                jose_aligned_free(self.threads[i].draws)
                self.threads[i].draws = <int32_t*>jose_aligned_alloc(
                    2 * per_position * sizeof(int32_t))
                if self.threads[i].draws == NULL:
                    raise MemoryError()
            self.draws_cap = per_position
        return 0

    def train(self, batch, int epoch, int64_t tokens_before):
        """Train every document of `batch`, in its order; releases the GIL.

        batch: doc_ids (int64, each document's index in the corpus: seeds its
        random draws), tokens (int32 word ids, the documents concatenated),
        offsets (int64, n_docs + 1 boundaries into tokens), tag_ptr (int64,
        n_docs + 1 boundaries into tag_rows), tag_rows (int32 rows of D), as
        `jose.corpus.Batch` holds them. Ids, rows and boundaries are checked
        (one pass) before anything is written. epoch is 0-based and
        tokens_before the tokens trained earlier in this epoch: a token's
        learning rate follows its place in that order.
        """
        cdef const int64_t[::1] doc_ids = _int_array(batch.doc_ids, np.int64, "doc_ids")
        cdef const int32_t[::1] tokens = _int_array(batch.tokens, np.int32, "tokens")
        cdef const int64_t[::1] offsets = _int_array(batch.offsets, np.int64, "offsets")
        cdef const int64_t[::1] tag_ptr = _int_array(batch.tag_ptr, np.int64, "tag_ptr")
        cdef const int32_t[::1] tag_rows = _int_array(batch.tag_rows, np.int32, "tag_rows")
        cdef Py_ssize_t n_docs = offsets.shape[0] - 1, where = 0, d
        if n_docs < 0 or doc_ids.shape[0] != n_docs or tag_ptr.shape[0] != n_docs + 1:
            raise ValueError(f"batch: offsets and tag_ptr need n_docs + 1 entries and "
                             f"doc_ids n_docs (got {offsets.shape[0]}, {tag_ptr.shape[0]}, "
                             f"{doc_ids.shape[0]})")
        if not 0 <= epoch < self.epochs:
            raise ValueError(f"epoch must be in [0, {self.epochs}), not {epoch}")
        if tokens_before < 0:
            raise ValueError(f"tokens_before must be >= 0, not {tokens_before}")
        if n_docs == 0:
            return
        cdef int problem
        with nogil:
            problem = check_batch(tokens, offsets, tag_ptr, tag_rows, <int32_t>self.p.n_words,
                                  <int32_t>self.D.shape[0], &where)
        if problem == BAD_OFFSETS:
            raise ValueError(f"batch: offsets must rise from 0 to len(tokens) = "
                             f"{tokens.shape[0]}; offsets[{where}] = {offsets[where]}")
        if problem == BAD_TAG_PTR:
            raise ValueError(f"batch: tag_ptr must rise from 0 to len(tag_rows) = "
                             f"{tag_rows.shape[0]}; tag_ptr[{where}] = {tag_ptr[where]}")
        if problem == BAD_TOKEN:
            raise ValueError(f"batch: tokens[{where}] = {tokens[where]} is not a word id "
                             f"(the vocabulary has {self.p.n_words} words)")
        if problem == BAD_TAG_ROW:
            raise ValueError(f"batch: tag_rows[{where}] = {tag_rows[where]} is not a row "
                             f"of D ({self.D.shape[0]} rows)")
        cdef int64_t longest = 0, max_tags = 0
        for d in range(n_docs):
            longest = max(longest, offsets[d + 1] - offsets[d])
            max_tags = max(max_tags, tag_ptr[d + 1] - tag_ptr[d])
        cdef int64_t per_position = draws_per_position(self.p.window, self.p.negative, max_tags)
        self._reserve(longest, per_position)

        cdef Block b
        b.p = &self.p
        b.shared.U = &self.U[0, 0]
        b.shared.V = &self.V[0, 0]
        b.shared.D = &self.D[0, 0]
        b.shared.hot = NULL
        b.shared.hot_v = NULL
        b.shared.n_hot = self.n_hot
        b.threads = self.threads
        b.sync_pairs = self.sync_pairs
        b.doc_ids = &doc_ids[0]
        b.tokens = &tokens[0] if tokens.shape[0] > 0 else NULL
        b.offsets = &offsets[0]
        b.tag_ptr = &tag_ptr[0]
        b.tag_rows = &tag_rows[0] if tag_rows.shape[0] > 0 else NULL
        b.n_docs = n_docs
        b.keep = &self.keep[0]
        b.table = alias_entries(self.table)
        b.per_position = per_position
        b.progress_base = <double>epoch * self.corpus_tokens + tokens_before
        b.seed = self.seed
        b.epoch = epoch
        b.next_doc = 0
        cdef int t, n_threads = self.n_threads
        with nogil:
            if n_threads == 1:
                run_worker(&b, 0)
            else:
                for t in prange(n_threads, schedule="static", chunksize=1,
                                num_threads=n_threads):
                    run_worker(&b, t)

    @property
    def stats(self):
        """Sums since the last reset_stats(), over all threads: the hinges'
        losses and step counts, and the words kept by subsampling."""
        cdef int t, k
        totals = [0.0] * N_STATS
        for t in range(self.n_threads):
            for k in range(N_STATS):
                totals[k] += self.threads[t].stats[k]
        return {name: (totals[k] if name.endswith("loss") else int(totals[k]))
                for k, name in enumerate(STAT_NAMES)}

    def reset_stats(self):
        cdef int t
        for t in range(self.n_threads):
            memset(self.threads[t].stats, 0, N_STATS * sizeof(double))

    def learning_rate(self, int epoch, double tokens_before):
        """The learning rate of a token after `tokens_before` tokens of epoch
        `epoch` (what the kernel uses)."""
        return learning_rate(&self.p, <double>epoch * self.corpus_tokens + tokens_before)

    def first_non_finite(self):
        """(table, row) of the first row holding a NaN or an infinity, table
        one of "U", "V", "D"; None if every value is finite."""
        for name, table in (("U", self.U), ("V", self.V), ("D", self.D)):
            row = _first_non_finite_row(table)
            if row >= 0:
                return name, row
        return None

    @property
    def objective(self):
        return ("separate", "joint")[self.p.objective]

    @property
    def update_rule(self):
        return ("paper", "reference")[self.p.rule]


cdef Py_ssize_t _first_non_finite_row(real_t[:, ::1] X):
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(X.shape[0]):
            for j in range(X.shape[1]):
                if not isfinite(X[i, j]):
                    return i
    return -1


# --------------------------------------------------------------------------
# Inference: new document vectors against frozen word vectors.
#
# One OpenMP loop over documents (dynamic scheduling: lengths vary). Every
# random draw of a document -- its subsampling, its negatives and, when it
# needs one, a random start vector -- comes from a generator seeded by
# (seed, the document's word ids), so a document's vector does not depend on
# the batch it is in, its place there or the number of threads, and a single
# document (infer_vector) gets exactly its batch row. Documents with no word
# get a zero row.
#
# Start vector. d starts at the direction of sum_i (U[w_i] - mu) over the
# document's tokens (all of them, in order), mu = sum_w p(w) U[w] the mean
# vector of a negative (p: the unigram^0.75 table negatives are drawn from;
# `negative_mean`, computed once per call or passed in, cached by the model).
# That is the expected descent direction of d over one pass with every hinge
# active (the step moves d along u - n), so d starts where SGD would head.
# The plain mean of U[w] is a poor start: all documents' means share a large
# common direction (their centroid has norm ~0.9) that trained document
# vectors do not have. If the centred sum is ~0 (norm below 1e-4 x tokens),
# the start is a random direction seeded by the content (the only start
# before 2026-12; `start="random"` keeps it, for studies). Measured on 20
# Newsgroups, paper settings, models trained at 1 worker, seed 1, inference
# at 1 worker (`python benchmarks/infer_start.py`,
# benchmarks/results/infer_start.md), 3-NN macro-F1 of inferred test vectors
# (all-trained: 0.692) / mean cosine(inferred, trained) of training
# documents / NMI with half the documents inferred (all-trained: 0.588):
#     random start, 10 epochs   0.681 / 0.851 / 0.572
#     mean start,   10 epochs   0.676 / 0.875 / 0.556
#     centred,      10 epochs   0.692 / 0.880 / 0.581
#     centred,       5 epochs   0.701 / 0.873 / 0.574
#     centred,       3 epochs   0.701 / 0.863 / 0.572
#     random start,  3 epochs   0.627 / 0.734 / 0.549
# so 3-5 epochs from the centred start match or beat 10 from a random one.
# The step is `infer_step` (d alone; ~20% fewer instructions than
# sphere_step's, see there).
#
# Both objectives infer with the word-document hinge max(0, m - u.d + n.d).
# The joint hinge moves d along the same direction, u - n; its context terms
# u.v - n.v only decide which tuples are active, and it steps once per
# (word, context, negative) instead of once per (word, negative), ~window + 1
# times as many steps. On 20 Newsgroups (window 10) a joint model's test
# documents inferred with the joint hinge scored 0.671 3-NN macro-F1 at 129
# documents per CPU-s, with the word-document hinge 0.674 at 2,137
# (benchmarks/results/infer_study_paper.md); the joint hinge's vectors agree
# more with trained ones (benchmarks/results/speed_round2.md).

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


cdef enum:
    # how many steps ahead inference asks for a negative's row: a step of d
    # takes ~20-40 ns, a row from L3 or memory ~100 ns or more
    INFER_PREFETCH_STEPS = 8


cdef enum:
    START_CENTRED = 0     # d0 = normalised sum over the tokens of (U[w] - mu)
    START_MEAN = 1        # d0 = the normalised mean of the document's word vectors
    START_RANDOM = 2      # d0 = a random direction seeded by the content (before 2026-12)
    START_GIVEN = 3       # d0 = the caller's row of `out`, normalised (studies)

# Below this norm of the (centred) mean word vector (relative: |sum| / tokens)
# its direction is rounding noise, and inference starts from a random one.
cdef double MEAN_START_MIN_NORM = 1e-4


def negative_mean(const real_t[:, ::1] U, const uint64_t[::1] thresh,
                  const int32_t[::1] alias):
    """mu = sum_w p(w) U[w] (float64, one value per dimension), p the
    distribution the alias table (thresh, alias) draws negatives from: the
    mean of a negative's vector, inference's centre (see infer_one).
    Summed in a fixed order, so it depends only on its arguments."""
    cdef Py_ssize_t V = U.shape[0], dim = U.shape[1], w, c
    if thresh.shape[0] != V or alias.shape[0] != V:
        raise ValueError("thresh and alias need one entry per row of U")
    p = np.empty(V, dtype=np.float64)
    mu = np.zeros(dim, dtype=np.float64)
    cdef double[::1] pv = p, m = mu
    cdef double t
    with nogil:
        for w in range(V):
            pv[w] = 0.0
        for w in range(V):
            t = <double>thresh[w] * (1.0 / 4294967296.0)
            if t > 1.0:
                t = 1.0
            pv[w] += t
            pv[alias[w]] += 1.0 - t
        for w in range(V):
            t = pv[w] / <double>V
            for c in range(dim):
                m[c] += t * U[w, c]
    return mu


cdef bint mean_unit_vector(real_t* d, int dim, const real_t* U, const int32_t* words,
                           int64_t n, const double* shift) noexcept nogil:
    """d <- the sum of the rows U[w] of the document's tokens (all of them, in
    order, float32), minus n x shift if shift is not NULL, normalised. False
    (d then holds the unnormalised sum) when that sum's norm is below
    n x MEAN_START_MIN_NORM."""
    cdef int c
    cdef int64_t i
    cdef const real_t* row
    cdef double norm2 = 0.0, k
    for c in range(dim):
        d[c] = 0.0
    for i in range(n):
        if i + INFER_PREFETCH_STEPS < n:
            prefetch_row(U + <int64_t>words[i + INFER_PREFETCH_STEPS] * dim, dim)
        row = U + <int64_t>words[i] * dim
        for c in range(dim):
            d[c] += row[c]
    if shift != NULL:
        for c in range(dim):
            d[c] = <real_t>(d[c] - <double>n * shift[c])
    for c in range(dim):
        norm2 += <double>d[c] * d[c]
    if not (norm2 > (MEAN_START_MIN_NORM * n) * (MEAN_START_MIN_NORM * n)):
        return False
    k = 1.0 / sqrt(norm2)
    for c in range(dim):
        d[c] = <real_t>(d[c] * k)
    return True


cdef double infer_one(const Params* p_in, int epochs, const real_t* U, real_t* d,
                      const int32_t* words, int64_t n, const uint64_t* keep,
                      const AliasEntry* table,
                      uint64_t seed, int32_t* steps, int start, const double* shift,
                      int64_t* counts) noexcept nogil:
    """Fit one document's vector d (dim values, written) with the
    word-document hinge against frozen U; returns the mean hinge of the last
    epoch (0 for an empty document, whose d is all zeros). d starts as
    `start` says (START_CENTRED: from `shift`, the mean negative; see
    "Start vector" above); counts, if not NULL, receives (steps, active steps).

    steps: scratch for (2 x negative + 1) x n ids. Each epoch first makes
    all its draws: one per position for subsampling, then the negatives of
    each kept position in order, into a list of (negative, position) steps;
    the steps then run with the rows INFER_PREFETCH_STEPS steps ahead
    prefetched, so the latency of random rows of U stays off the critical
    path. Both loops are branch-free where the outcome is random.
    """
    cdef Params p = p_in[0]
    cdef int dim = p.dim, e, k, c
    cdef int64_t i, q, s, n_steps, n_kept
    cdef int32_t w, neg
    cdef uint64_t state, doc_seed
    cdef double loss_sum = 0.0, pairs = 0.0, step_loss, given = 0.0
    cdef int64_t total = 0, active = 0
    cdef real_t dd                  # d.d, carried from step to step (see infer_step)
    cdef int32_t* pos = steps + n * p.negative     # each step's position
    cdef int32_t* kept = pos + n * p.negative      # the kept positions
    if n == 0:
        for c in range(dim):
            d[c] = 0.0
        if counts != NULL:
            counts[0] = 0
            counts[1] = 0
        return 0.0
    doc_seed = content_seed(seed, words, n)
    if start == START_GIVEN:
        for c in range(dim):
            given += <double>d[c] * d[c]
        if given > 0.0:
            given = 1.0 / sqrt(given)
            for c in range(dim):
                d[c] = <real_t>(d[c] * given)
    if (start == START_GIVEN and not given > 0.0) or start == START_RANDOM \
            or (start == START_MEAN and not mean_unit_vector(d, dim, U, words, n, NULL)) \
            or (start == START_CENTRED and not mean_unit_vector(d, dim, U, words, n, shift)):
        state = rng_seed(doc_seed, START_STREAM, 0)
        random_unit_vector(d, dim, &state)
    dd = 0
    for c in range(dim):
        dd += d[c] * d[c]
    p.progress_total = <double>n * epochs
    for e in range(epochs):
        state = rng_seed(doc_seed, <uint64_t>e, 0)
        n_kept = 0
        for i in range(n):
            kept[n_kept] = <int32_t>i
            n_kept += (rng_next(&state) >> 32) < keep[words[i]]
        n_steps = 0
        for q in range(n_kept):
            w = words[kept[q]]
            for k in range(p.negative):
                neg = draw_negative(&state, table, p.n_words, w)
                steps[n_steps] = neg
                pos[n_steps] = kept[q]
                n_steps += neg >= 0
        for s in range(min(n_steps, <int64_t>INFER_PREFETCH_STEPS)):
            prefetch_row(U + <int64_t>steps[s] * dim, dim)
        loss_sum = 0.0
        for s in range(n_steps):
            if s + INFER_PREFETCH_STEPS < n_steps:
                prefetch_row(U + <int64_t>steps[s + INFER_PREFETCH_STEPS] * dim, dim)
            i = pos[s]
            step_loss = infer_step(U + <int64_t>words[i] * dim, d,
                                   U + <int64_t>steps[s] * dim, dim,
                                   learning_rate(&p, <double>e * n + i), p.margin, p.rule,
                                   &dd)
            loss_sum += step_loss
            active += step_loss > 0.0
        pairs = <double>n_steps
        total += n_steps
    if counts != NULL:
        counts[0] = total
        counts[1] = active
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
        int n_threads=1, double[::1] losses=None, int32_t[:, ::1] scratch=None,
        str start="centred", int64_t[:, ::1] counts=None, const double[::1] shift=None):
    """Fit one vector per document with the word-document hinge, U frozen;
    releases the GIL and runs the documents on n_threads threads.

    Row i of `out` is document i's unit vector, or zeros if it has no word.
    `losses` (optional, n_docs) receives each document's mean hinge in its
    last epoch. A document's result depends only on (U, its word ids, the
    parameters and seed): not on the batch, its order or n_threads.
    `scratch` (optional): n_threads x at least (2 x negative + 1) x (the
    longest document's length) int32.
    `start`: "centred" (d starts at the direction of the sum over the
    tokens of U[w] - shift, or a random direction seeded by the content if
    that sum is ~0; see "Start vector"), "mean" (the same without the
    shift), "random" (always the random direction; the behaviour before
    2026-12) or "given" (the caller's rows of `out`, normalised; zero rows
    get the random direction). The last three are for studies
    (benchmarks/infer_start.py).
    `shift` (optional, dim float64): the centre of "centred"; default
    negative_mean(U, thresh, alias), recomputed per call (a model passes
    its cached one).
    `counts` (optional, n_docs x 2 int64) receives each document's number
    of steps and of active steps (hinge > 0), over all epochs.
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
    if counts is not None and (counts.shape[0] != n_docs or counts.shape[1] != 2):
        raise ValueError(f"counts must be {n_docs} x 2")
    cdef int start_code
    if start == "centred":
        start_code = START_CENTRED
    elif start == "mean":
        start_code = START_MEAN
    elif start == "random":
        start_code = START_RANDOM
    elif start == "given":
        start_code = START_GIVEN
    else:
        raise ValueError(f"start must be 'centred', 'mean', 'random' or 'given', not {start!r}")
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
    cdef int64_t longest = 0
    for i in range(n_docs):
        longest = max(longest, offsets[i + 1] - offsets[i])
    if longest > 0x7FFFFFFF:
        raise ValueError(f"a document of {longest} tokens is too long to infer (at most 2**31 - 1)")
    if scratch is None:
        # a row per thread, on cache lines of its own
        scratch = np.zeros((n_threads, (2 * negative + 1) * longest + 32), dtype=np.int32)
    if scratch.shape[0] < n_threads or scratch.shape[1] < (2 * negative + 1) * longest:
        raise ValueError(f"scratch needs {n_threads} rows of {(2 * negative + 1) * longest} "
                         f"entries")
    cdef const int32_t* tok = &tokens[0] if n_tokens > 0 else NULL
    cdef double* loss_out = &losses[0] if losses is not None else NULL
    cdef int64_t* count_out = &counts[0, 0] if counts is not None else NULL
    if start_code == START_CENTRED and shift is None:
        shift = negative_mean(U, thresh, alias)
    if shift is not None and shift.shape[0] != p.dim:
        raise ValueError(f"shift must have {p.dim} entries")
    cdef const double* shift_ptr = &shift[0] if shift is not None else NULL
    cdef int32_t* steps = &scratch[0, 0]
    cdef const uint32_t[::1] packed = pack_alias_table(thresh, alias)
    cdef int64_t stride = scratch.shape[1]
    # Each thread steps its document's d in a buffer of its own and copies it
    # to `out` at the end: rows of `out` next to each other share a cache line
    # (400 bytes a row at 100-d), and two threads stepping neighbouring
    # documents in place wrote that line back and forth at every step (the
    # kernel's 1 -> 2 thread speed-up swung between 1.30x and 1.76x with the
    # host's placement of the two vCPUs). Rows are a whole number of cache
    # lines apart, plus one line of gap.
    cdef int64_t dstride = (p.dim + 15) // 16 * 16 + 16
    cdef real_t[:, ::1] dbuf = np.zeros((n_threads, dstride), dtype=np.float32)
    cdef real_t* dptr
    cdef size_t row_bytes = p.dim * sizeof(real_t)
    cdef double loss
    cdef int team = 1
    with nogil:
        for i in prange(n_docs, schedule="dynamic", num_threads=n_threads):
            team = jose_team_size()
            dptr = &dbuf[0, 0] + threadid() * dstride
            if start_code == START_GIVEN:
                memcpy(dptr, &out[i, 0], row_bytes)
            loss = infer_one(&p, epochs, &U[0, 0], dptr,
                             tok + offsets[i] if tok != NULL else NULL,
                             offsets[i + 1] - offsets[i], &keep[0], alias_entries(packed),
                             seed, steps + threadid() * stride, start_code, shift_ptr,
                             count_out + 2 * i if count_out != NULL else NULL)
            memcpy(&out[i, 0], dptr, row_bytes)
            if loss_out != NULL:
                loss_out[i] = loss
    return team


# --------------------------------------------------------------------------
# Which build runs (see jose/_core.py).

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int jose_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    /* the AVX-512 subsets the 512-bit build is compiled for (x86-64-v4's);
       libgcc's and compiler-rt's checks include the OS saving zmm state */
    static int jose_cpu_has_avx512(void) {
        return jose_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
    }
    #else
    static int jose_cpu_has_avx2_fma(void) { return 0; }
    static int jose_cpu_has_avx512(void) { return 0; }
    #endif
    """
    int jose_cpu_has_avx2_fma() nogil
    int jose_cpu_has_avx512() nogil


def cpu_has_avx2_fma():
    """Whether this CPU runs AVX2 and FMA instructions (asked of the CPU)."""
    return bool(jose_cpu_has_avx2_fma())


def cpu_has_avx512():
    """Whether this CPU (and OS) runs the AVX-512 instructions of the 512-bit
    build: F, VL, BW, DQ and CD, with AVX2 and FMA."""
    return bool(jose_cpu_has_avx512())
