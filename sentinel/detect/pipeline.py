"""The default detector's batch in one compiled pass: guarded ensemble, then decisions, series by series.

``Likelihood(Guard(Ensemble))`` could run a batch as two passes over all
series (the ensemble's :func:`sentinel.detect.fused.run_batch`, then the
decision layer's :func:`sentinel.detect.decide_batch.run_batch`), but then the
second pass reads every series' scores and expected values back from a
batch-sized array long after they left the cache, and every series' state
is fetched twice.  Here each series runs both layers back to back: the
ensemble's steps, then the decisions on the rows it has just written.  The
decisions' state of the series (some thirty arrays, and sequence counts read
at random) is requested (:func:`sentinel.detect.decide_batch.fetch_ahead`) before
the ensemble starts the series, so it is in the cache when they need it.

Valid for the same reason as the two passes: the ensemble learns with the
guard's weight alone and never reads the decision layer's state, so its
scores for a series' whole batch can come first.  Same per-series
functions, so the same numbers as the two passes and the one-step path.
"""

from __future__ import annotations

import numpy as np

from sentinel.detect import baseline_kernels as bl
from sentinel.detect import calibrate as cal
from sentinel.detect import decide as dc
from sentinel.detect import decide_batch as db
from sentinel.detect import drift as dr
from sentinel.detect import fused
from sentinel.detect import guard as gd
from sentinel.detect import members as mb
from sentinel.detect import sequence as sq
from sentinel.detect.jit import kernel


@kernel
def run_batch(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
              cc: cal.Consts, e: fused.Params, peak: np.ndarray, da: dr.Arrays, dp: dr.Params, ts: np.ndarray,
              values: np.ndarray, d_slots: np.ndarray, w_slots: np.ndarray, hours: np.ndarray, into: np.ndarray,
              g: gd.Params, g_run: np.ndarray, g_last: np.ndarray, g_t: np.ndarray, out: np.ndarray,
              stats: np.ndarray, pv: np.ndarray, la: dc.Arrays, lp: dc.Params, sa: sq.Arrays, sp: sq.Params,
              held: np.ndarray) -> None:
    """Guarded ensemble then decisions for every series; ``out`` as in :func:`sentinel.detect.fused.run_batch`.

    The decisions replace the ensemble's scores (``out[:, :, 0]``); the rest
    of ``out`` (expected value, band, member scores) stays the ensemble's.
    ``held`` as in :func:`sentinel.detect.decide_batch.run_batch` (the
    stuck condition, or (series, 0) without the stuck check).
    """
    for i in range(values.shape[0]):
        db.fetch_ahead(la, lp, sa, sp, i)  # the decisions' state arrives while the ensemble runs the series
        fused.run_series(b, bp, codes, mps, m, ca, cc, e, peak, da, dp, i, ts, values[i], d_slots, w_slots, hours,
                         into, True, g, g_run, g_last, g_t, out[i], stats, pv)
        db.run_series(la, lp, sa, sp, i, ts, values[i], out[i, :, 0], out[i, :, 1], held[i])
