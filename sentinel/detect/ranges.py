"""A forgetting range: the span a series has shown, widened at once by a new extreme, narrowed slowly.

The novelty channel's ranges (of the value and of its EW mean,
:mod:`sentinel.detect.novelty`), its rise and ceiling checks' ranges
(:mod:`sentinel.detect.rise`, :mod:`sentinel.detect.ceiling`) and the
sequence model's bins (:mod:`sentinel.detect.sequence`) all need "what has
this series spanned lately": a new extreme must count at once, an old one
must fade, or one spike would set the scale for ever.  Each end moves
inward by ``forget`` of the width per value learned, so an extreme not seen
again is forgotten over about ``1 / forget`` values.  One rule, so the
channels cannot drift apart.

The ensemble's range member (:mod:`sentinel.detect.members`) is not this
rule: it narrows on every step, learned or not, and lets NaN win.
"""

from __future__ import annotations

from sentinel.detect.jit import kernel


@kernel(inline=False)
def widened(lo: float, hi: float, x: float, forget: float, n: int = 1) -> tuple:
    """``(lo, hi)`` taken out to ``x``, each end first moved in by ``forget`` of the width per value, ``n`` values.

    ``n`` is for a range learned once per ``n`` values (the ceiling
    check's, once per block): its width times ``forget`` times ``n``, in
    that order, so ``n = 1`` rounds as one value's forgetting.  A NaN
    ``lo`` is no range yet: it starts at ``x``.
    """
    if lo != lo:
        return x, x
    d = (hi - lo) * forget * n
    return min(x, lo + d), max(x, hi - d)
