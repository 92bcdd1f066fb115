"""A float64 NumPy oracle of one JoSE update (test oracle, not shipped).

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
