"""The Cython kernel against the float64 oracle in tests/reference.py.

Covers one update (both rules), the Riemannian gradient (finite differences
along geodesics), the unit-norm invariant over many steps and the alias
sampler used for negative words.
"""
import numpy as np
import pytest
from scipy import stats

import reference
from jose import _core

RULES = ("paper", "reference")
DIMS = (1, 2, 3, 7, 24, 100, 257, 300)


def unit(rng, dim, dtype=np.float32):
    x = rng.standard_normal(dim)
    while np.linalg.norm(x) < 1e-3:
        x = rng.standard_normal(dim)
    return (x / np.linalg.norm(x)).astype(dtype)


def active_triple(rng, dim, margin):
    """Random float32 unit vectors u, v, n with an active hinge and u != n
    (in one dimension the oracle's paper factor for v divides by |u - n|)."""
    while True:
        u, v, n = (unit(rng, dim) for _ in range(3))
        u64, v64, n64 = (x.astype(np.float64) for x in (u, v, n))
        if margin - u64 @ v64 + n64 @ v64 > 1e-3 and np.linalg.norm(u64 - n64) > 1e-3:
            return u, v, n


def kernel_step(u, v, n, alpha, margin, rule, update_words=True):
    u, v, n = (np.array(x, dtype=np.float32) for x in (u, v, n))
    loss = _core.sphere_step_py(u, v, n, alpha, margin, rule, update_words)
    return u, v, n, loss


# -- one step against the oracle -------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("seed", range(4))
def test_step_matches_oracle(rule, dim, seed):
    rng = np.random.default_rng([seed, dim])
    for alpha, margin in ((0.04, 0.15), (0.5, 0.5), (2.0, 2.0), (1e-3, 1.0)):
        u, v, n = active_triple(rng, dim, margin)
        ku, kv, kn, kloss = kernel_step(u, v, n, alpha, margin, rule)
        ru, rv, rn, rloss = reference.update(u, v, n, alpha, margin, rule)
        assert rloss > 0
        assert kloss == pytest.approx(rloss, rel=1e-6, abs=1e-6)
        assert kloss == pytest.approx(reference.hinge(*(x.astype(np.float64) for x in (u, v, n)),
                                                      margin), abs=1e-6)
        for got, want in ((ku, ru), (kv, rv), (kn, rn)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
            assert abs(np.linalg.norm(got.astype(np.float64)) - 1.0) < 1e-6


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dim", DIMS)
def test_infer_step_matches_oracle(rule, dim):
    # inference's d-only step (g = u - n, d.d carried) is the oracle's update
    # of d alone, and leaves u and n untouched
    rng = np.random.default_rng([7, dim])
    for alpha, margin in ((0.04, 0.15), (0.5, 0.5), (2.0, 2.0), (1e-3, 1.0)):
        u, v, n = active_triple(rng, dim, margin)
        d, u0, n0 = v.copy(), u.copy(), n.copy()
        loss = _core.infer_step_py(u, d, n, alpha, margin, rule)
        _, rv, _, rloss = reference.update(u, v, n, alpha, margin, rule, update_words=False)
        assert loss == pytest.approx(rloss, rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(d, rv, rtol=1e-6, atol=1e-6)
        assert np.array_equal(u, u0) and np.array_equal(n, n0)
        assert abs(np.linalg.norm(d.astype(np.float64)) - 1.0) < 1e-6
    # an inactive hinge: no step, loss 0
    d = u.copy()
    assert _core.infer_step_py(u, d, n, 0.5, 0.0, rule) == 0.0 and np.array_equal(d, u)


@pytest.mark.parametrize("rule", RULES)
def test_inference_stays_on_the_sphere(rule):
    # 20,000 active steps of d: the carried d.d keeps it a unit vector
    rng = np.random.default_rng(9)
    U = np.stack([unit(rng, 100) for _ in range(64)])
    out = np.empty((1, 100), np.float32)
    words = rng.integers(0, 64, 1000).astype(np.int32)
    V = len(U)
    _core.infer_documents(U, out, words, np.array([0, len(words)]),
                          np.full(V, 1 << 32, np.uint64), np.full(V, 1 << 32, np.uint64),
                          np.arange(V, dtype=np.int32), 2, 2.0, rule, 0.5, 1.0, 10, 1, 1)
    assert abs(np.linalg.norm(out[0].astype(np.float64)) - 1.0) < 1e-6


@pytest.mark.parametrize("rule", RULES)
def test_step_moves_every_vector(rule):
    # a guard that the comparison above compares something that changed
    rng = np.random.default_rng(5)
    u, v, n = active_triple(rng, 50, 0.5)
    ku, kv, kn, _ = kernel_step(u, v, n, 0.3, 0.5, rule)
    for before, after in ((u, ku), (v, kv), (n, kn)):
        assert np.max(np.abs(before - after)) > 1e-3


def test_rules_differ():
    rng = np.random.default_rng(6)
    u, v, n = active_triple(rng, 40, 0.5)
    a = kernel_step(u, v, n, 0.3, 0.5, "paper")
    b = kernel_step(u, v, n, 0.3, 0.5, "reference")
    assert not np.allclose(a[2], b[2], atol=1e-4)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dim", (1, 5, 64))
def test_inactive_hinge_changes_nothing(rule, dim):
    rng = np.random.default_rng(dim)
    for margin in (0.15, 1.0, 1.9):
        v = unit(rng, dim)
        u = v.copy()
        n = -v
        # u.v - n.v = 2 >= margin: no loss, no step
        ku, kv, kn, loss = kernel_step(u, v, n, 0.5, margin, rule)
        assert loss == 0.0
        assert np.array_equal(ku, u) and np.array_equal(kv, v) and np.array_equal(kn, n)
    # a hinge exactly satisfied with room to spare, random directions
    u, v, n = (unit(rng, dim) for _ in range(3))
    gap = float(u.astype(np.float64) @ v - n.astype(np.float64) @ v)
    if gap > 0.05:
        ku, kv, kn, loss = kernel_step(u, v, n, 0.5, gap - 0.01, rule)
        assert loss == 0.0
        assert np.array_equal(ku, u) and np.array_equal(kv, v) and np.array_equal(kn, n)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dim", (2, 9, 128))
def test_update_words_false_moves_only_v(rule, dim):
    rng = np.random.default_rng(11 + dim)
    for _ in range(5):
        u, v, n = active_triple(rng, dim, 0.4)
        ku, kv, kn, loss = kernel_step(u, v, n, 0.3, 0.4, rule, update_words=False)
        ru, rv, rn, rloss = reference.update(u, v, n, 0.3, 0.4, rule, update_words=False)
        assert np.array_equal(ku, u) and np.array_equal(kn, n)
        np.testing.assert_allclose(kv, rv, rtol=1e-6, atol=1e-6)
        assert loss == pytest.approx(rloss, abs=1e-6)
        assert abs(np.linalg.norm(kv.astype(np.float64)) - 1.0) < 1e-6


@pytest.mark.parametrize("rule", RULES)
def test_step_lands_on_sphere_from_off_sphere(rule):
    # the retraction uses the exact x.x, so even slightly off-sphere inputs
    # come back as unit vectors
    rng = np.random.default_rng(21)
    u, v, n = active_triple(rng, 33, 0.5)
    u, v, n = u * 1.01, v * 0.995, n * 1.003
    ku, kv, kn, _ = kernel_step(u, v, n, 0.2, 0.5, rule)
    for x in (ku, kv, kn):
        assert abs(np.linalg.norm(x.astype(np.float64)) - 1.0) < 1e-6


def test_length_mismatch_raises():
    a = (np.ones(3) / np.sqrt(3)).astype(np.float32)
    b = np.full(4, 0.5, np.float32)
    with pytest.raises(ValueError, match="same length"):
        _core.sphere_step_py(a, b, a.copy(), 0.1, 0.5)


def test_rule_code():
    assert _core.rule_code("paper") != _core.rule_code("reference")
    for bad in ("Paper", "", "gensim", "paper "):
        with pytest.raises(ValueError, match="update_rule"):
            _core.rule_code(bad)
    a = (np.ones(3) / np.sqrt(3)).astype(np.float32)
    with pytest.raises(ValueError, match="update_rule"):
        _core.sphere_step_py(a.copy(), -a, a.copy(), 0.1, 0.5, "nope")


# -- the Riemannian gradient -----------------------------------------------------

def _exp_map(x, xi, t):
    """exp_x(t xi) on the unit sphere (xi tangent at x)."""
    norm = np.linalg.norm(xi)
    return np.cos(t * norm) * x + np.sin(t * norm) * xi / norm


def _tangent(rng, x):
    xi = rng.standard_normal(len(x))
    xi -= (xi @ x) * x
    return xi / np.linalg.norm(xi)


def _projected(x, g):
    """(I - x x^T) g."""
    return g - (x @ g) * x


@pytest.mark.parametrize("dim", (2, 3, 10, 100))
def test_riemannian_gradient_matches_finite_differences(dim):
    rng = np.random.default_rng(100 + dim)
    margin = 1.0
    eps = 1e-5
    for _ in range(5):
        u, v, n = (unit(rng, dim, np.float64) for _ in range(3))
        if reference.hinge(u, v, n, margin) < 0.1:
            continue
        g_u, g_v, g_n = reference.euclidean_gradients(u, v, n)
        point = {"u": u, "v": v, "n": n}
        grads = {"u": g_u, "v": g_v, "n": g_n}
        for name in ("u", "v", "n"):
            x = point[name]
            grad = _projected(x, grads[name])
            assert abs(grad @ x) < 1e-12          # a tangent vector
            for _ in range(3):
                xi = _tangent(rng, x)

                def loss(t):
                    p = dict(point)
                    p[name] = _exp_map(x, xi, t)
                    return reference.hinge(p["u"], p["v"], p["n"], margin)
                fd = (loss(eps) - loss(-eps)) / (2 * eps)
                assert fd == pytest.approx(grad @ xi, abs=1e-8)
            # along the gradient itself the directional derivative is |grad|^2
            if np.linalg.norm(grad) > 1e-6:
                xi = grad / np.linalg.norm(grad)

                def loss(t):
                    p = dict(point)
                    p[name] = _exp_map(x, xi, t)
                    return reference.hinge(p["u"], p["v"], p["n"], margin)
                fd = (loss(eps) - loss(-eps)) / (2 * eps)
                assert fd == pytest.approx(np.linalg.norm(grad), rel=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_step_direction_is_the_scaled_riemannian_gradient(rule):
    # for a small alpha, (x' - x) / alpha -> -factor * (I - x x^T) dL/dx
    rng = np.random.default_rng(7)
    alpha = 1e-7
    for _ in range(5):
        u, v, n = (unit(rng, 20, np.float64) for _ in range(3))
        margin = 1.0
        if reference.hinge(u, v, n, margin) <= 0:
            continue
        g = dict(zip("uvn", reference.euclidean_gradients(u, v, n)))
        s_u, s_v, s_n = reference.step_factors(u, v, n, g["u"], g["v"], g["n"], rule)
        nu, nv, nn, _ = reference.update(u, v, n, alpha, margin, rule)
        for x, new, s, name in ((u, nu, s_u, "u"), (v, nv, s_v, "v"), (n, nn, s_n, "n")):
            np.testing.assert_allclose((new - x) / alpha, -s * _projected(x, g[name]),
                                       rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dim", (3, 30, 300))
def test_paper_rule_small_step_decreases_loss(dim):
    # every paper factor 1 + x.g/|g| lies in [0, 2]: a small step is a descent step
    rng = np.random.default_rng(dim)
    margin = 1.0
    for _ in range(10):
        u, v, n = (unit(rng, dim, np.float64) for _ in range(3))
        before = reference.hinge(u, v, n, margin)
        if before <= 0:
            continue
        g = reference.euclidean_gradients(u, v, n)
        for s in reference.step_factors(u, v, n, *g, "paper"):
            assert -1e-12 <= s <= 2.0 + 1e-12
        nu, nv, nn, _ = reference.update(u, v, n, 1e-3, margin, "paper")
        assert reference.hinge(nu, nv, nn, margin) < before
        # the kernel, in float32, too
        ku, kv, kn, _ = kernel_step(u, v, n, 1e-2, margin, "paper")
        assert reference.hinge(*(x.astype(np.float64) for x in (ku, kv, kn)), margin) < before


# -- the unit-norm invariant -----------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dim", (3, 64, 301))
def test_no_norm_drift_over_many_steps(rule, dim):
    rng = np.random.default_rng(dim)
    table = np.stack([unit(rng, dim) for _ in range(4)])
    picks = rng.integers(0, 4, size=(10_000, 3))
    active = 0
    margin = 2.0   # the largest margin: the hinge stays active almost always
    for i, j, k in picks:
        if i == j or j == k or i == k:
            i, j, k = 0, 1, 2
        u, v, n = table[i], table[j], table[k]   # views: updated in place
        if _core.sphere_step_py(u, v, n, 0.9, margin, rule) > 0:
            active += 1
    assert active > 5_000
    norms = np.linalg.norm(table.astype(np.float64), axis=1)
    assert np.all(np.abs(norms - 1.0) < 1e-5), norms
    assert np.all(np.isfinite(table))


@pytest.mark.parametrize("rule", RULES)
def test_no_norm_drift_same_triple(rule):
    # the same triple again and again, with a large step
    rng = np.random.default_rng(3)
    u, v, n = active_triple(rng, 50, 2.0)
    for _ in range(10_000):
        _core.sphere_step_py(u, v, n, 1.5, 2.0, rule)
        _core.sphere_step_py(n, v, u, 1.5, 2.0, rule)   # swap roles: stays active
    for x in (u, v, n):
        assert abs(np.linalg.norm(x.astype(np.float64)) - 1.0) < 1e-5
        assert np.all(np.isfinite(x))


# -- the alias sampler -----------------------------------------------------------

def _frequencies(probs, n_samples, seed):
    thresh, alias = _core.build_alias_table(np.ascontiguousarray(probs, dtype=np.float64))
    draws = _core.sample_words(thresh, alias, n_samples, seed)
    assert draws.dtype == np.int32 and len(draws) == n_samples
    assert draws.min() >= 0 and draws.max() < len(probs)
    return np.bincount(draws, minlength=len(probs))


@pytest.mark.parametrize("probs", [
    [1.0],
    [0.5, 0.5],
    [0.1, 0.0, 0.3, 0.05, 0.55, 0.0],
    [3, 1, 1, 1, 10, 0.01, 7],                            # any positive sum
    (np.arange(1, 201, dtype=np.float64) ** -1.0) ** 0.75,  # Zipf^0.75
])
def test_alias_sampler_frequencies(probs):
    probs = np.asarray(probs, dtype=np.float64)
    p = probs / probs.sum()
    n_samples = 400_000
    counts = _frequencies(probs, n_samples, seed=12345)
    assert np.all(counts[p == 0] == 0)
    assert np.max(np.abs(counts / n_samples - p)) < 5 * np.sqrt(0.25 / n_samples)
    nz = p > 0
    if nz.sum() > 1:
        _, pvalue = stats.chisquare(counts[nz], n_samples * p[nz])
        assert pvalue > 1e-4


def test_alias_sampler_detects_a_skewed_table():
    # the chi-square check above can fail: a wrong table is rejected
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    counts = _frequencies(probs[::-1], 200_000, seed=1)
    _, pvalue = stats.chisquare(counts, 200_000 * probs)
    assert pvalue < 1e-6


def test_alias_sampler_many_zeros_never_drawn():
    rng = np.random.default_rng(0)
    probs = rng.random(5000) ** 3
    probs[rng.random(5000) < 0.5] = 0.0
    counts = _frequencies(probs, 1_000_000, seed=7)
    assert counts[probs == 0].sum() == 0
    assert counts[probs > 0].sum() == 1_000_000


def test_alias_table_shape_and_determinism():
    probs = np.array([2.0, 0.0, 1.0, 1.0])
    thresh, alias = _core.build_alias_table(probs)
    assert thresh.dtype == np.uint64 and alias.dtype == np.int32
    assert thresh.shape == alias.shape == (4,)
    assert np.all(thresh <= 1 << 32)
    assert thresh[1] == 0                       # a zero word is never kept
    a = _core.sample_words(thresh, alias, 1000, 99)
    b = _core.sample_words(thresh, alias, 1000, 99)
    c = _core.sample_words(thresh, alias, 1000, 100)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("bad", [
    [],
    [0.0, 0.0, 0.0],
    [0.5, -0.1, 0.6],
    [-1.0],
    [0.5, np.nan],
])
def test_alias_table_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="probabilities"):
        _core.build_alias_table(np.asarray(bad, dtype=np.float64))


# -- hot rows: one thread's private copies folded into the shared table ------------

def unit_rows(rng, n, dim):
    x = rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_hot_merge_adds_the_change_and_renormalises():
    rng = np.random.default_rng(0)
    start = unit_rows(rng, 4, 7)
    shared = start.copy()
    # another thread already folded in its change of row 0
    shared[0] = unit_rows(rng, 1, 7)[0]
    other = shared.copy()
    local, base = start.copy(), start.copy()
    local[[0, 2]] = unit_rows(rng, 2, 7)              # this thread stepped rows 0 and 2
    expected = shared.astype(np.float64) + (local.astype(np.float64) - base)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    _core.hot_merge_py(shared, local, base)
    for row in (0, 2):
        np.testing.assert_allclose(shared[row], expected[row], atol=1e-6)
    # rows this thread left alone are not written, only read back into its copies
    for row in (1, 3):
        assert np.array_equal(shared[row], other[row])
    assert np.array_equal(local, shared) and np.array_equal(base, shared)


def test_hot_merge_of_two_threads_sums_their_changes():
    rng = np.random.default_rng(1)
    start = unit_rows(rng, 3, 5)
    step_a, step_b = unit_rows(rng, 3, 5), unit_rows(rng, 3, 5)
    shared = start.copy()
    a, base_a = step_a.copy(), start.copy()
    b, base_b = step_b.copy(), start.copy()
    _core.hot_merge_py(shared, a, base_a)
    _core.hot_merge_py(shared, b, base_b)
    s = start.astype(np.float64) + (step_a - start.astype(np.float64))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    s = s + (step_b - start.astype(np.float64))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    np.testing.assert_allclose(shared, s, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(shared, axis=1), 1.0, atol=1e-6)


def test_hot_merge_rejects_mismatched_copies():
    U = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="n_hot x dim"):
        _core.hot_merge_py(U, np.zeros((2, 3), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="n_hot x dim"):
        _core.hot_merge_py(U, np.zeros((5, 3), np.float32), np.zeros((5, 3), np.float32))


# -- the joint hinge (the paper's Eq. 4) ---------------------------------------

def active_quadruple(rng, dim, margin):
    """float32 unit vectors u, v, d, n with an active joint hinge, u != n."""
    while True:
        q = [unit(rng, dim) for _ in range(4)]
        u, v, d, n = (x.astype(np.float64) for x in q)
        if (reference.joint_hinge(u, v, d, n, margin) > 1e-3 and np.linalg.norm(u - n) > 1e-3
                and np.linalg.norm(v + d) > 1e-3):
            return q


def kernel_joint_step(u, v, d, n, alpha, margin, rule, update_words=True, alpha_d=None):
    u, v, d, n = (np.array(x, dtype=np.float32) for x in (u, v, d, n))
    loss = _core.joint_step_py(u, v, d, n, alpha, margin, rule, update_words, alpha_d)
    return u, v, d, n, loss


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dim", DIMS[1:])
@pytest.mark.parametrize("seed", range(3))
def test_joint_step_matches_oracle(rule, dim, seed):
    rng = np.random.default_rng([seed, dim, 4])
    for alpha, alpha_d, margin in ((0.04, 0.04, 0.15), (0.5, 0.05, 0.5), (1e-3, 1e-3, 2.0)):
        q = active_quadruple(rng, dim, margin)
        got = kernel_joint_step(*q, alpha, margin, rule, alpha_d=alpha_d)
        want = reference.joint_update(*q, alpha, margin, rule, alpha_d=alpha_d)
        assert want[4] > 0
        assert got[4] == pytest.approx(want[4], rel=1e-5, abs=1e-6)
        for g, w in zip(got[:4], want[:4]):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)
            assert abs(np.linalg.norm(g.astype(np.float64)) - 1.0) < 1e-6


@pytest.mark.parametrize("rule", RULES)
def test_joint_inactive_hinge_changes_nothing(rule):
    rng = np.random.default_rng(11)
    u, v, d = (unit(rng, 16) for _ in range(3))
    v, d = u.copy(), u.copy()             # u.v = u.d = 1: far beyond any margin
    n = -u
    got = kernel_joint_step(u, v, d, n, 0.5, 0.3, rule)
    assert got[4] == 0.0
    for g, x in zip(got[:4], (u, v, d, n)):
        assert np.array_equal(g, x)


@pytest.mark.parametrize("rule", RULES)
def test_joint_update_words_false_moves_only_d(rule):
    rng = np.random.default_rng(12)
    q = active_quadruple(rng, 24, 0.5)
    got = kernel_joint_step(*q, 0.1, 0.5, rule, update_words=False)
    want = reference.joint_update(*q, 0.1, 0.5, rule, update_words=False)
    for k in (0, 1, 3):
        assert np.array_equal(got[k], q[k])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-5, atol=2e-6)
    assert not np.allclose(got[2], q[2])


@pytest.mark.parametrize("dim", (3, 10, 100))
def test_joint_riemannian_gradient_matches_finite_differences(dim):
    rng = np.random.default_rng(200 + dim)
    margin, eps = 2.0, 1e-5
    for _ in range(5):
        point = dict(zip("uvdn", (unit(rng, dim, np.float64) for _ in range(4))))
        grads = dict(zip("uvdn", reference.joint_gradients(*point.values())))
        for name in "uvdn":
            x = point[name]
            grad = _projected(x, grads[name])
            for _ in range(3):
                xi = _tangent(rng, x)

                def loss(t):
                    p = dict(point)
                    p[name] = _exp_map(x, xi, t)
                    return reference.joint_hinge(p["u"], p["v"], p["d"], p["n"], margin)
                fd = (loss(eps) - loss(-eps)) / (2 * eps)
                assert fd == pytest.approx(grad @ xi, abs=1e-8)


@pytest.mark.parametrize("rule", RULES)
def test_joint_step_direction_is_the_scaled_riemannian_gradient(rule):
    rng = np.random.default_rng(13)
    alpha = 1e-7
    q = [x / np.linalg.norm(x) for x in
         (y.astype(np.float64) for y in active_quadruple(rng, 20, 1.0))]
    u, v, d, n = q
    g = reference.joint_gradients(u, v, d, n)
    w, z = v + d, u - n
    if rule == "paper":
        factors = (1 - (u @ w) / np.linalg.norm(w), 1 - (v @ z) / np.linalg.norm(z),
                   1 - (d @ z) / np.linalg.norm(z), 1 + (n @ w) / np.linalg.norm(w))
    else:
        factors = (1 - u @ w, 1 - v @ z, 1 - d @ z, 2 * (n @ w))
    new = reference.joint_update(u, v, d, n, alpha, 1.0, rule)
    for x, y, s, gx in zip(q, new[:4], factors, g):
        np.testing.assert_allclose((y - x) / alpha, -s * _projected(x, gx), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_joint_no_norm_drift_over_many_steps(rule):
    rng = np.random.default_rng(14)
    q = [np.array(x) for x in active_quadruple(rng, 50, 2.0)]
    for _ in range(5000):
        _core.joint_step_py(*q, 0.9, 2.0, rule)
    for x in q:
        assert abs(np.linalg.norm(x.astype(np.float64)) - 1.0) < 1e-5


def test_packed_alias_table_draws_what_the_two_arrays_say():
    # the samplers read (threshold, alias) pairs packed as uint32; a full
    # column's 2**32 becomes 2**32 - 1, which must not change any draw
    from reference import SplitMix64
    probs = np.array([5.0, 1.0, 1.0, 0.0, 3.0, 1.0], dtype=np.float64)
    thresh, alias = _core.build_alias_table(probs)
    assert (thresh == 1 << 32).any()                  # some full columns
    packed = _core.pack_alias_table(thresh, alias)
    assert packed.dtype == np.uint32 and len(packed) == 2 * len(probs)
    np.testing.assert_array_equal(packed[1::2], alias)
    rng = SplitMix64(7, 0, 0)
    want = [rng.word(thresh, alias) for _ in range(2000)]
    np.testing.assert_array_equal(_core.sample_words(thresh, alias, 2000, 7), want)
    with pytest.raises(ValueError, match=r"alias\[1\] = 9 is not a word id"):
        _core.pack_alias_table(thresh, np.array([0, 9, 2, 3, 4, 5], dtype=np.int32))
