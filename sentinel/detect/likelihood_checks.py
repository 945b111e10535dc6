"""Validation of :class:`~sentinel.detect.likelihood.Likelihood`'s parameters at its public edge.

One ``ValueError`` line per broken rule, naming the parameters it covers:
a bad parameter fails with one clear line, and the kernels then trust the
constants.

>>> from sentinel.detect.ensemble import Ensemble
>>> from sentinel.detect.likelihood import Likelihood
>>> Likelihood(Ensemble(), decide_at=0.5)
Traceback (most recent call last):
...
ValueError: likelihood needs 0.5 < decide_at < 1 - 1e-12
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _is_int(v: Any) -> bool:
    """An integer, and not a bool (``True`` is an int to Python, not a count to a user)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def check(*, q: float, eta: float, env_decay: float, env_gain: float, n_warm: int, max_L: float, start: float,
           decide_at: float, margin: float, margin_seq: float, nov_tol: float, nov_forget: float, nov_alpha: float,
           nov_rel: float, budget_alpha: float, budget_rate: float, dev_floor: float, budget_gain: float,
           rank_rate: float, rise_k: int, rise_tol: float, rise_forget: float, ceil_blocks: int, ceil_tol: float,
           ceil_forget: float, stuck_min: int, stuck_factor: float, stuck_forget: float, young_n: int,
           young_rank: float, step: int | None, **_: Any) -> None:
    """Raise ``ValueError`` on the first parameter outside its range (the others, such as ``sequence``, pass)."""
    if not 0.5 < q < 1 - 1e-12:
        raise ValueError("likelihood needs 0.5 < q < 1 - 1e-12")
    if not 0.5 < decide_at < 1 - 1e-12:
        raise ValueError("likelihood needs 0.5 < decide_at < 1 - 1e-12")
    if margin < 0 or margin_seq < 0:
        raise ValueError("likelihood needs margin >= 0 and margin_seq >= 0")
    if nov_tol < 0 or not 0 <= nov_forget < 0.5 or not 0 < nov_alpha <= 1 or nov_rel <= 0 or not 0 <= dev_floor < 1:
        raise ValueError("likelihood needs nov_tol >= 0, 0 <= nov_forget < 0.5, 0 < nov_alpha <= 1, nov_rel > 0, "
                         "0 <= dev_floor < 1")
    if not 0 <= budget_alpha < 1 or not 0 < budget_rate < 1 or not budget_gain > 0 or not 0 <= rank_rate <= 10:
        raise ValueError("likelihood needs 0 <= budget_alpha < 1, 0 < budget_rate < 1, budget_gain > 0, "
                         "0 <= rank_rate <= 10")
    if rise_k not in (0, *range(2, 65)) or not rise_tol >= 0 or not 0 <= rise_forget < 0.5:
        raise ValueError("likelihood needs rise_k 0 (off) or 2..64, rise_tol >= 0, 0 <= rise_forget < 0.5")
    if ceil_blocks not in (0, *range(2, 65)) or not ceil_tol >= 0 or not 0 <= ceil_forget < 0.5:
        raise ValueError("likelihood needs ceil_blocks 0 (off) or 2..64, ceil_tol >= 0, 0 <= ceil_forget < 0.5")
    if not (_is_int(stuck_min) and (stuck_min == 0 or 2 <= stuck_min <= 1_000_000)) \
            or not stuck_factor >= 1 or not 0 <= stuck_forget < 0.5:
        raise ValueError("likelihood needs stuck_min 0 (off) or 2..1000000, stuck_factor >= 1, "
                         "0 <= stuck_forget < 0.5")
    if not (_is_int(young_n) and young_n >= 0) or not 0 <= young_rank <= 5:
        raise ValueError("likelihood needs young_n an int >= 0 (0: off) and 0 <= young_rank <= 5")
    if step is not None and not (_is_int(step) and step > 0):
        raise ValueError("likelihood needs step None (learned from the first batch) or a positive int")
    if eta <= 0 or not 0 <= env_decay < 1 or env_gain < 1 or n_warm < 0 or max_L <= 0 or start < 0:
        raise ValueError("likelihood needs eta > 0, 0 <= env_decay < 1, env_gain >= 1, n_warm >= 0, max_L > 0, "
                         "start >= 0")
