"""An empty or None label value is an absent label, from every source (as in Prometheus)."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from sentinel.config import WatchConfig
from sentinel.series import Batch, labels_key
from sentinel.sources.base import SourceError
from sentinel.sources.prometheus_decode import MatrixDecoder


def test_none_and_empty_values_drop_the_label() -> None:
    b = Batch.from_rows([{"agent": None, "zone": "eu"}, {"agent": "", "zone": "us"}], [0, 60], [[1, 2], [3, 4]])
    assert b.labels == ((("zone", "eu"),), (("zone", "us"),))
    assert "None" not in repr(b.labels)


def test_an_empty_label_is_the_same_series_as_none() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        Batch.from_rows([{"agent": "", "z": "1"}, {"z": "1"}], [0, 60], [[1, 2], [3, 4]])
    assert labels_key({"a": None}) == labels_key({"a": ""}) == labels_key({}) == ()


def test_prometheus_answer_with_null_or_empty_label_values() -> None:
    decoder = MatrixDecoder(default_cap=10, registry=CollectorRegistry())
    watch = WatchConfig(name="w", query="up", every=60)
    ts = np.arange(0, 180, 60)
    ok = [{"metric": {"agent": None, "job": "x"}, "values": [[0, "1"]]},
          {"metric": {"agent": "a1", "job": "x", "zone": ""}, "values": [[60, "2"]]}]
    batch = decoder.decode(watch, [ok], ts)
    assert batch.labels == ((("job", "x"),), (("agent", "a1"), ("job", "x")))
    clash = [{"metric": {"job": "x", "zone": ""}, "values": []}, {"metric": {"job": "x"}, "values": []}]
    with pytest.raises(SourceError, match=r'two series labelled \{job="x"\}'):
        MatrixDecoder(default_cap=10, registry=CollectorRegistry()).decode(watch, [clash], ts)
