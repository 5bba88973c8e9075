"""Re-derive the polynomial coefficients of ``pmargin.pricing._vecmath`` (run by hand).

Needs mpmath (not a dependency of pmargin): ``pip install mpmath`` then
``python tests/pricing/fit_vecmath_coefficients.py``. Each polynomial is the Chebyshev
interpolant, at 50 digits, of the function it approximates on its interval, converted to
monomials and rounded to float64; the printed lists are the module's ``_E*``, ``_L*`` and
``_H`` constants, and the printed errors the bounds its docstring states.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 50


def chebyshev_monomials(func, a, b, degree):
    """Monomial coefficients, in ``y`` on ``[-1, 1]`` mapped to ``[a, b]``, of the interpolant."""
    n = degree + 1
    nodes = [mp.cos(mp.pi * (j + mp.mpf(1) / 2) / n) for j in range(n)]
    values = [func((b - a) / 2 * y + (a + b) / 2) for y in nodes]
    cheb = [
        2 * sum(values[j] * mp.cos(mp.pi * i * (j + mp.mpf(1) / 2) / n) for j in range(n)) / n
        for i in range(n)
    ]
    cheb[0] /= 2
    basis = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    for i in range(2, n):
        nxt = [mp.mpf(0)] * (i + 1)
        for j, c in enumerate(basis[-1]):
            nxt[j + 1] += 2 * c
        for j, c in enumerate(basis[-2]):
            nxt[j] -= c
        basis.append(nxt)
    mono = [mp.mpf(0)] * n
    for i in range(n):
        for j, c in enumerate(basis[i]):
            mono[j] += cheb[i] * c
    return mono


def rescale(mono, a, b):
    """Monomials in ``y = (2x - a - b) / (b - a)`` -> monomials in ``x``."""
    half, mid = (b - a) / 2, (a + b) / 2
    out = [mp.mpf(0)] * len(mono)
    for i, c in enumerate(mono):
        for j in range(i + 1):  # c ((x - mid) / half)**i
            out[j] += c * mp.binomial(i, j) * (-mid) ** (i - j) / half**i
    return out


def main() -> None:
    h = mp.log(2) / 2
    exp_q = rescale(chebyshev_monomials(lambda r: (mp.exp(r) - 1 - r) / r**2, -h, h, 11), -h, h)
    print("exp: (exp(r) - 1 - r) / r**2, |r| <= ln(2) / 2:", [float(c) for c in exp_q])

    z_max = ((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) ** 2
    log_r = rescale(
        chebyshev_monomials(
            lambda z: sum(2 * z ** (k - 1) / (2 * k + 1) for k in range(1, 60)), 0, z_max, 7
        ),
        0,
        z_max,
    )
    print("log: R(z) / z, z <= 0.0295:", [float(c) for c in log_r])

    c, w_max = mp.mpf(3), 40
    t_min = c / (c + w_max)

    def mills(t):
        w = c * (1 - t) / t
        return mp.ncdf(-w) / t * mp.exp(w * w / 2)

    h_mono = chebyshev_monomials(mills, t_min, mp.mpf(1), 23)
    print("ndtr: h(t) in y = 2.15 t - 1.15:", [float(x) for x in h_mono])
    worst = max(
        abs(sum(mp.mpf(float(x)) * y**i for i, x in enumerate(h_mono)) / mills(t) - 1)
        for t in (t_min + (1 - t_min) * j / 400 for j in range(401))
        for y in [(2 * t - t_min - 1) / (1 - t_min)]
    )
    print("ndtr: max relative error of h with float64 coefficients:", mp.nstr(worst, 3))


if __name__ == "__main__":
    main()
