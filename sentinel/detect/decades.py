"""Decades and back, inline: ``-log10`` of a probability and ``1 - 10**-d``, without a libm call.

The decision layer (:mod:`sentinel.detect.decide`) turns every point's
inner score into a surprise in decades (``L = -log10(1 - score)``), every
point's sequence probability into one (``S``), and every decision back into
a score (``1 - 10**-D``).  As calls into libm these took about 40 % of the
layer's time: each call is opaque to the compiler, so every floating-point
value live across it is spilled to the stack and reloaded, and a loop that
calls cannot be vectorised.  The functions here are the textbook
algorithms, written out so they inline:

- :func:`ln`: ``x = 2**k * z`` with ``z`` in ``[sqrt(1/2), sqrt(2))`` (from
  the exponent bits), ``z`` in one of 64 subintervals with centre ``c``
  (from the next mantissa bits; :data:`LN_INVC`, :data:`LN_LOGC`),
  ``log(z) = log(c) + log1p(z / c - 1)`` with ``|z / c - 1| < 0.008`` and a
  degree-7 polynomial; no division (libm's own ``log`` is built the same
  way; a version with fdlibm's division was slower than the call);
- :func:`exp10_neg`: ``10**-d`` by reduction to ``2**k * exp(r)`` with
  ``|r| <= ln(2) / 2`` and a degree-13 Taylor polynomial (Estrin's scheme,
  for instruction-level parallelism).

The calibrators have their own inline ``log2``/``exp2``
(:mod:`sentinel.detect.approx`), on purpose: :func:`ln` keeps a surprise's
relative precision next to 1, which the calibrators do not need, and
serving both layers with one ``ln``/``exp`` made the guarded ensemble 0.84×
as fast (30k series, same run).

Only what the decision layer needs: positive finite arguments that are not
subnormal for :func:`ln` (probabilities clipped at ``10**-max_L``, ratios of
counts with a prior), and ``0 <= d <= 300`` for :func:`exp10_neg` (NaN
propagates through both).  :func:`ln` agrees with libm to ``3e-16``
relative, :func:`exp10_neg` to ``1e-14`` over the 20 decades the layer
uses (its error grows with ``d``: ``1e-13`` near 300), below what the
frozen-reference tests (``rtol 1e-9``) can see.  ``ln`` near 1 is ``log1p``
of an exact ``z - 1``, so a tiny surprise keeps its relative precision:

>>> import math
>>> x = [1e-15, 0.0123, 0.5, 0.70710678, 0.99999, 1 - 1e-12, 1.0]
>>> max(abs(ln(v) - math.log(v)) / max(abs(math.log(v)), 1e-300) for v in x) < 1e-15
True
>>> max(abs(exp10_neg(d) - 10.0**-d) / 10.0**-d for d in (0.0, 1e-9, 0.3, 2.0, 17.25)) < 1e-14
True
"""

from __future__ import annotations

import decimal
import math

import numpy as np

from sentinel.detect.jit import kernel

LN10 = math.log(10.0)
LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln(2): LN2_HI * k is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10
SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # the bits of sqrt(1/2): mantissas are reduced to [sqrt(1/2), sqrt(2))
MANTISSA_BITS = 52
EXP_BIAS = 1023
TABLE_BITS = 6
TABLE_SIZE = 1 << TABLE_BITS


def _log_table() -> tuple[np.ndarray, np.ndarray]:
    """``1/c`` and ``log(c)`` for the centre ``c`` of each of the subintervals :func:`ln` reduces ``z`` to.

    ``log(c)`` is ``-log(1/c)`` of the rounded ``1/c``, to 28 digits, so the
    rounding of ``1/c`` costs nothing; the subinterval holding 1 uses
    ``c = 1``, so that ``ln`` near 1 is ``log1p`` of an exact ``z - 1``.
    """
    invc, logc = np.empty(TABLE_SIZE), np.empty(TABLE_SIZE)
    for j in range(TABLE_SIZE):
        lo, hi = (np.int64(SQRT_HALF_BITS + (b << (MANTISSA_BITS - TABLE_BITS))).view(np.float64) for b in (j, j + 1))
        c = 1.0 if lo <= 1.0 < hi else (float(lo) + float(hi)) / 2
        invc[j] = 1.0 / c
        logc[j] = float(-decimal.Decimal(invc[j]).ln())
    return invc, logc


LN_INVC, LN_LOGC = _log_table()
INV_FACT = tuple(1.0 / math.factorial(k) for k in range(14))  # Taylor coefficients of exp


@kernel(inline=False)
def ln(x: float) -> float:
    """Natural log of a positive, finite, normal ``x`` (NaN gives NaN), by table and polynomial (module doc)."""
    ix = np.float64(x).view(np.int64)
    tmp = ix - SQRT_HALF_BITS
    k = tmp >> MANTISSA_BITS  # x = 2**k * z with z in [sqrt(1/2), sqrt(2))
    j = (tmp >> (MANTISSA_BITS - TABLE_BITS)) & (TABLE_SIZE - 1)  # the subinterval of z
    z = np.int64(ix - (k << MANTISSA_BITS)).view(np.float64)
    r = z * LN_INVC[j] - 1.0  # |r| < 0.008; exact for the subinterval holding 1 (c = 1)
    r2 = r * r
    p = r + r2 * ((-0.5 + r * (1.0 / 3.0)) + r2 * ((-0.25 + r * 0.2) + r2 * (-1.0 / 6.0 + r * (1.0 / 7.0))))
    dk = float(k)
    out = (dk * LN2_HI + LN_LOGC[j]) + (p + dk * LN2_LO)
    return out if x == x else x


@kernel(inline=False, exact=True)
def exp10_neg(d: float) -> float:
    """``10**-d`` for ``0 <= d <= 300`` (NaN gives NaN), without a libm call."""
    y = -d * LN10
    k = math.floor(y * (1.0 / math.log(2.0)) + 0.5) if d == d else 0.0
    r = (y - k * LN2_HI) - k * LN2_LO  # |r| <= ln(2) / 2 (plus rounding)
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    c = INV_FACT
    p01 = c[0] + r * c[1]
    p23 = c[2] + r * c[3]
    p45 = c[4] + r * c[5]
    p67 = c[6] + r * c[7]
    p89 = c[8] + r * c[9]
    pab = c[10] + r * c[11]
    pcd = c[12] + r * c[13]
    p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67) + r8 * ((p89 + r2 * pab) + r4 * pcd)
    scale = np.int64((int(k) + EXP_BIAS) << MANTISSA_BITS).view(np.float64)
    return p * scale if d == d else d
