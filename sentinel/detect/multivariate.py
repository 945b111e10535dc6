"""Per-agent multivariate detector: "everything about this agent is slightly off".

Per-series detectors miss an agent whose latency, tokens, errors, queue and
memory are each a little high: no single series is unusual enough.  This
detector looks at each agent's *vector* of metrics:

1. every series is decomposed by :class:`~sentinel.detect.stl.STLDetector`
   (one per signal, vectorised over series) and its residual is turned into a
   normal score, ``sign(r) * Phi^-1(calibrated score)``, so every feature is
   N(0, 1) under normal operation whatever its units, seasonality or tail;
2. the feature vectors are smoothed over time by an EWMA (the MEWMA control
   chart: a small shift that persists accumulates, while a one-point blip of
   one metric does not dominate);
3. the distance is the Mahalanobis distance under a robust covariance
   (scikit-learn's Minimum Covariance Determinant, pooled over agents, so
   metrics that normally move together are not double counted);
4. the distance is calibrated on the history
   (:class:`~sentinel.detect.tail.TailCalibration`), giving the DESIGN §2 score.

Input is a dict ``signal -> Batch`` (series carry the ``agent`` label) or one
Batch whose other labels name the features.  ``score_agents`` returns a Batch
of per-agent distances (one series per agent, labels ``{agent: ...}``) and
its Scores (``expected``/``lower``/``upper`` are in distance units;
``members`` holds each signal's own smoothed score, saying which metrics
drive the alert), ready for :class:`~sentinel.alerting.policy.Policy`.
Missing features count as normal (0).  Agents unseen in the fit start from a
fresh EWMA; features unseen in the fit are ignored.

As a watch's detector (kind ``multivariate``, refitted periodically by
:mod:`sentinel.detect.retrain`) the input is one Batch of every agent's
metrics (e.g. a Prometheus selector over several ``__name__``), and
:meth:`~AgentMultivariateDetector.advance` gives the per-series view the
alert policy needs: each series carries its agent's score, with its own STL
expected value and band, and ``members`` name the metrics that drive it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri
from sklearn.covariance import MinCovDet

from sentinel.detect.scores import Scores
from sentinel.detect.stl import FIT_SECONDS, STLDetector
from sentinel.detect.tail import TailCalibration
from sentinel.series import Batch, Labels
from sentinel.series_index import SeriesIndex

Inputs = Mapping[str, Batch] | Batch


class AgentMultivariateDetector:
    """Robust Mahalanobis distance of each agent's smoothed residual vector (see module doc).

    Parameters: ``agent_label`` (the label naming an agent), ``smoothing``
    (EWMA weight of the newest point, in (0, 1]; 1 = no smoothing),
    ``band_prob``, ``max_fit_samples`` (rows the MCD sees; subsampled
    deterministically with ``random_state``) and ``stl`` (parameters of the
    per-signal :class:`STLDetector`).
    """

    def __init__(self, agent_label: str = "agent", smoothing: float = 0.2, band_prob: float = 0.99,
                 max_fit_samples: int = 1000, random_state: int = 0, stl: dict[str, object] | None = None) -> None:
        self.agent_label = agent_label
        self.smoothing = smoothing
        self.band_prob = band_prob
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state
        self.stl = dict(stl or {})

    def get_params(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("agent_label", "smoothing", "band_prob", "max_fit_samples",
                                              "random_state", "stl")}

    # -- input shaping ------------------------------------------------------------
    def _split(self, inputs: Inputs) -> dict[str, Batch]:
        if isinstance(inputs, Batch):
            inputs = {"": inputs}
        if not isinstance(inputs, Mapping) or not inputs:
            raise TypeError("expected a Batch or a non-empty dict of signal name -> Batch")
        first = next(iter(inputs.values()))
        for name, b in inputs.items():
            if not isinstance(b, Batch):
                raise TypeError(f"signal {name!r}: expected a Batch, got {type(b).__name__}")
            if b.step != first.step or not np.array_equal(b.timestamps, first.timestamps):
                raise ValueError(f"signal {name!r} is not on the same time grid as the others; align them first")
            if b.n_series and not any(k == self.agent_label for lb in b.labels for k, _ in lb):
                raise ValueError(f"signal {name!r}: no series carries the label {self.agent_label!r}")
        return dict(inputs)

    def _feature(self, signal: str, labels: Labels) -> tuple[str, Labels | None, str | None]:
        agent = dict(labels).get(self.agent_label)
        rest = tuple(kv for kv in labels if kv[0] != self.agent_label)
        return signal, rest, agent

    def _normal_scores(self, signal: str, batch: Batch, z: np.ndarray) -> np.ndarray:
        """Signed residuals -> N(0,1) scores through each series' calibrated CDF."""
        det = self.stl_[signal]
        rows = np.array([det.index_.rows([k])[0] if k in det.index_ else 0 for k in batch.labels], dtype=np.intp)
        p = det.tail_.cdf(np.abs(z), rows)
        u = np.sign(z) * ndtri(0.5 + 0.5 * np.clip(p, 0.0, 1.0 - 1e-12))
        return np.where(np.isfinite(u), u, 0.0)

    def _tensor(self, parts: dict[str, Batch], normal: dict[str, np.ndarray], agents: SeriesIndex,
                n_steps: int, grow: bool) -> np.ndarray:
        """(agents, features, time) of normal scores; missing = 0."""
        out: np.ndarray | None = None
        cells: list[tuple[int, int, np.ndarray]] = []
        for signal, b in parts.items():
            for i, lb in enumerate(b.labels):
                sig, rest, agent = self._feature(signal, lb)
                key = (("signal", sig), *rest)
                if agent is None or (not grow and key not in self.features_):
                    continue
                f = int(self.features_.rows([key])[0])
                a = int(agents.rows([((self.agent_label, agent),)])[0])
                cells.append((a, f, normal[signal][i]))
        out = np.zeros((len(agents), len(self.features_), n_steps))
        for a, f, u in cells:
            out[a, f] = u
        return out

    # -- fit / score ----------------------------------------------------------------
    def fit(self, history: Inputs) -> AgentMultivariateDetector:
        """Learn per-signal decompositions, the robust covariance and the distance calibration."""
        t0 = time.perf_counter()
        if not 0 < self.smoothing <= 1 or not 0.5 <= self.band_prob < 1:
            raise ValueError("smoothing must be in (0, 1] and band_prob in [0.5, 1)")
        parts = self._split(history)
        self.stl_ = {}
        normal = {}
        for signal, b in parts.items():
            self.stl_[signal] = STLDetector(**self.stl)  # type: ignore[arg-type]
            z = self.stl_[signal].fit_transform(b)
            normal[signal] = self._normal_scores(signal, b, z)
        self.features_ = SeriesIndex()
        self.agents_ = SeriesIndex()
        n_steps = next(iter(parts.values())).n_steps
        # register features and agents first (sorted: a stable feature order)
        keys = sorted({(("signal", s), *self._feature(s, lb)[1]) for s, b in parts.items() for lb in b.labels
                       if self._feature(s, lb)[2] is not None})
        self.features_.rows(keys)
        u = self._tensor(parts, normal, self.agents_, n_steps, grow=True)
        if len(self.agents_) == 0 or len(self.features_) == 0:
            raise ValueError(f"no series with the label {self.agent_label!r} to learn from")
        e = self._ewma(u, np.zeros(u.shape[:2]))
        self.last_ewma_ = e[:, :, -1].copy()
        warm = min(int(np.ceil(3 / self.smoothing)), max(n_steps - 1, 0))
        sample = e[:, :, warm:].transpose(0, 2, 1).reshape(-1, u.shape[1])
        rng = np.random.default_rng(self.random_state)
        if len(sample) > self.max_fit_samples:
            sample = sample[rng.choice(len(sample), self.max_fit_samples, replace=False)]
        self.location_, self.precision_ = self._covariance(sample)
        self.tail_ = TailCalibration().fit(self._distance(e[:, :, warm:]).reshape(1, -1))
        vars(self).pop("series_", None)  # a refit of this object starts again from its fitted series
        self._series()
        FIT_SECONDS.labels("multivariate").observe(time.perf_counter() - t0)
        return self

    def _covariance(self, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Robust location and precision; falls back to a ridge-regularised classical estimate."""
        f = sample.shape[1]
        try:
            if len(sample) <= 2 * f + 2:
                raise ValueError("too few samples for MCD")
            mcd = MinCovDet(random_state=self.random_state).fit(sample)
            loc, cov = mcd.location_, mcd.covariance_
        except ValueError:
            loc = np.median(sample, axis=0) if len(sample) else np.zeros(f)
            cov = np.cov(sample, rowvar=False).reshape(f, f) if len(sample) > 1 else np.eye(f)
        cov = np.nan_to_num(cov) + 1e-6 * np.eye(f) * max(float(np.trace(cov)) / f, 1e-6)
        return loc, np.linalg.pinv(cov)

    def _ewma(self, u: np.ndarray, last: np.ndarray) -> np.ndarray:
        lam = self.smoothing
        zi = ((1 - lam) * last)[..., None]
        return lfilter([lam], [1.0, -(1 - lam)], u, axis=-1, zi=zi)[0]

    def _distance(self, e: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of (agents, features, time) -> (agents, time)."""
        d = e - self.location_[None, :, None]
        return np.sqrt(np.maximum(np.einsum("aft,fg,agt->at", d, self.precision_, d), 0.0))

    def _agents(self, inputs: Inputs, advance: bool) -> tuple[dict[str, Batch], SeriesIndex, np.ndarray,
                                                              np.ndarray, dict[str, Scores]]:
        """Every agent's smoothed features ``e`` and distance (rows: known agents, then new ones)."""
        if not hasattr(self, "precision_"):
            raise RuntimeError("AgentMultivariateDetector is not fitted: call fit(history) first")
        parts = self._split(inputs)
        first = next(iter(parts.values()))
        normal, own = {}, {}
        for signal, b in parts.items():
            if signal in self.stl_:
                z, own[signal] = self.stl_[signal].residuals(b, advance=advance)
                normal[signal] = self._normal_scores(signal, b, z)
        parts = {s: b for s, b in parts.items() if s in normal}
        agents = SeriesIndex(self.agents_.keys)
        seen = sorted({((self.agent_label, self._feature(s, lb)[2]),) for s, b in parts.items() for lb in b.labels
                       if self._feature(s, lb)[2] is not None})
        agents.rows(seen)  # new agents get fresh rows after the fitted ones
        u = self._tensor(parts, normal, agents, first.n_steps, grow=False) if parts else \
            np.zeros((len(agents), len(self.features_), first.n_steps))
        last = np.zeros(u.shape[:2])
        last[: len(self.agents_)] = self.last_ewma_
        e = self._ewma(u, last)
        if advance and e.shape[2]:  # the EWMA goes on from here next time (new agents become known)
            self.agents_ = agents
            self.last_ewma_ = e[:, :, -1].copy()
            self._series().rows(tuple(lb for b in parts.values() for lb in b.labels))
        return parts, agents, e, self._distance(e), own

    def score_agents(self, inputs: Inputs) -> tuple[Batch, Scores]:
        """Per-agent distance series and their calibrated scores (continuing from the fit's end)."""
        parts, agents, e, dist, _ = self._agents(inputs, advance=False)
        first = next(iter(self._split(inputs).values()))
        seen = {((self.agent_label, self._feature(s, lb)[2]),) for s, b in parts.items() for lb in b.labels
                if self._feature(s, lb)[2] is not None}
        keep = np.array([k in seen for k in agents.keys], dtype=bool)
        dist, e = dist[keep], e[keep]
        score = self.tail_.cdf(dist, np.zeros(len(dist), dtype=np.intp))
        med = float(self.tail_.quantile(0.5)[0])
        upper = float(self.tail_.quantile(self.band_prob)[0])
        scores = Scores(score, np.full_like(dist, med), np.zeros_like(dist), np.full_like(dist, upper),
                        members=self._members(e))
        labels = tuple(k for k, kp in zip(agents.keys, keep, strict=True) if kp)
        return Batch(first.timestamps, dist, labels, first.step), scores

    def _series(self) -> SeriesIndex:
        """Every series fitted or advanced since the fit (``series_``), so :meth:`forget` knows which agents
        still report: an agent that joined after the fit has no series in the per-signal fits.

        A model saved before ``series_`` was kept starts from its fitted series.
        """
        if not hasattr(self, "series_"):
            self.series_ = SeriesIndex(dict.fromkeys(k for det in self.stl_.values() for k in det.index_.keys))
        return self.series_

    def forget(self, labels: Iterable[Labels]) -> None:
        """Drop series that are gone from the per-signal fits, and the agents none of whose series remain
        (their EWMA rows): an agent that comes back starts from a fresh EWMA, as a new one does; an agent
        with a series still reporting keeps its EWMA, whether it was fitted or joined later."""
        labels = list(labels)
        if not hasattr(self, "precision_"):
            return
        for det in self.stl_.values():
            det.forget(labels)
        series = self._series()
        series.forget(labels)
        named = {a for k in labels if (a := dict(k).get(self.agent_label)) is not None}
        left = {dict(k).get(self.agent_label) for k in series.keys}
        keep = self.agents_.forget([((self.agent_label, a),) for a in sorted(named - left)])
        if keep is not None:
            self.last_ewma_ = self.last_ewma_[keep]

    def advance(self, batch: Batch) -> Scores:
        """:meth:`series_view` of ``batch``, then the EWMA and level memories move past it."""
        return self.series_view(batch, advance=True)

    def series_view(self, batch: Batch, advance: bool = False) -> Scores:
        """The per-series view a watch alerts on, continuing from the last :meth:`advance` (or the fit).

        Every series of ``batch`` (one Batch: agents x metrics, e.g. a
        Prometheus selector over several ``__name__``) gets its agent's
        calibrated score; ``expected``/``lower``/``upper`` are the series' own
        STL values and band (so the alert shows how far *this* metric is
        off), and ``members`` holds each signal's smoothed score for the
        series' agent.  Series without the agent label score NaN.
        """
        _, agents, e, dist, own = self._agents(batch, advance=advance)
        rows = np.array([int(agents.rows([((self.agent_label, a),)])[0]) if a is not None else -1
                         for a in (dict(lb).get(self.agent_label) for lb in batch.labels)], dtype=np.intp)
        has = rows >= 0
        agent_score = self.tail_.cdf(dist, np.zeros(len(dist), dtype=np.intp))
        nan = np.full(batch.values.shape, np.nan)
        base = own.get("") or Scores(nan, nan, nan, nan)
        score = np.where(has[:, None], agent_score[np.maximum(rows, 0)], np.nan)
        score = np.where(np.isfinite(batch.values), score, np.nan)
        members = {k: np.where(has[:, None], v[np.maximum(rows, 0)], np.nan) for k, v in self._members(e).items()}
        return Scores(score, base.expected, base.lower, base.upper, members=members)

    def _members(self, e: np.ndarray) -> dict[str, np.ndarray]:
        """Each signal's own smoothed score (its worst feature): which metrics are off."""
        sd = np.sqrt(np.maximum(np.diag(np.linalg.pinv(self.precision_)), 1e-12))
        z = np.abs(e - self.location_[None, :, None]) / sd[None, :, None]
        per_feature = 2 * ndtr(z) - 1
        out: dict[str, np.ndarray] = {}
        for f, key in enumerate(self.features_.keys):  # a signal's name, or (one Batch) its feature labels
            name = dict(key)["signal"] or ",".join(v for k, v in key if k != "signal") or "value"
            out[name] = np.maximum(out[name], per_feature[:, f]) if name in out else per_feature[:, f]
        return out

    def score(self, inputs: Inputs) -> Scores:
        """Scores only, rows in the order of :meth:`score_agents`' batch."""
        return self.score_agents(inputs)[1]
