"""Rolling-origin validation: pick the member that forecast this series' own past best.

The history is split once: members estimate their parameters on the first
part (the training prefix), then forecast from a set of origins spread over
the rest, each origin seeing only the samples up to itself.  The member with
the lowest mean absolute error (averaged per horizon, so long horizons count
as much as short ones; origins weighted by recency with a half-life of a
quarter of their span, so a regime change such as a deploy that starts a
leak counts more than the quiet days before it) wins, and its residuals
calibrate the intervals.

>>> plan = ValidationPlan.make(n=2016, horizon=576, max_origins=100)
>>> plan.train, plan.horizon, len(plan.origins), int(plan.origins[0])
(1008, 504, 92, 1007)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sentinel.forecast.members import Member


@dataclass(frozen=True)
class ValidationPlan:
    """Where to split and from which origins to forecast, for ``n`` samples."""

    train: int
    horizon: int
    origins: np.ndarray

    @classmethod
    def make(cls, n: int, horizon: int, max_origins: int) -> ValidationPlan:
        """Validate up to a quarter of the history ahead, from origins over the second half at most."""
        hv = max(1, min(horizon, n // 4))
        span = max(1, min(hv, n // 4))
        train = max(2, n - hv - span)
        stride = max(1, -(-(n - train) // max_origins))
        origins = np.arange(train - 1, n - 1, stride)
        return cls(train, hv, origins)


@dataclass(frozen=True)
class Validation:
    """The winner, every member's score, the winner's residuals ``(origins, horizons)`` and its
    forecast from the last sample (made in the same filter run: no refit)."""

    member: Member
    scores: dict[str, float]
    residuals: np.ndarray
    final: np.ndarray


def residual_matrix(forecasts: np.ndarray, observed: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """``observed[o + 1 + j] - forecasts[k, j]``; NaN past the end of the data or at gaps."""
    target = origins[:, None] + 1 + np.arange(forecasts.shape[1])
    inside = target < len(observed)
    actual = np.where(inside, observed[np.minimum(target, len(observed) - 1)], np.nan)
    return actual - forecasts


def validate(
    members: list[Member], filled: np.ndarray, observed: np.ndarray, plan: ValidationPlan, horizon: int
) -> Validation:
    """Score each member (members that fail to fit are skipped); raises ValueError if none fits.

    Parameters are estimated on the training prefix only; the final forecast
    runs the same filter on to the last sample, so each member is fitted once.
    """
    best: tuple[float, Member, np.ndarray, np.ndarray] | None = None
    scores: dict[str, float] = {}
    origins = np.append(plan.origins, len(filled) - 1)
    age = (plan.origins[-1] - plan.origins) / max(1.0, (plan.origins[-1] - plan.origins[0]) / 4)
    weight = 0.5**age
    for member in members:
        try:
            member.fit(filled[: plan.train])
            fc = member.forecasts(filled, origins, max(horizon, plan.horizon))
        except (ValueError, np.linalg.LinAlgError, IndexError):
            continue
        res = residual_matrix(fc[:-1, : plan.horizon], observed, plan.origins)
        err = np.abs(res)
        ok = np.isfinite(err)
        with np.errstate(all="ignore"):
            per_h = (np.where(ok, err, 0) * weight[:, None]).sum(axis=0) / (ok * weight[:, None]).sum(axis=0)
        score = float(np.nanmean(per_h)) if np.isfinite(per_h).any() else np.inf
        if not np.isfinite(fc).all():
            score = np.inf
        scores[member.name] = score
        if best is None or score < best[0]:
            best = (score, member, res, fc[-1, :horizon])
    if best is None or not np.isfinite(best[0]):
        raise ValueError("no forecaster could be fitted to this history")
    return Validation(best[1], scores, best[2], best[3])
