"""The demo's coarser replay step keeps each alert policy's evidence (``sentinel.demo.at_step``)."""

from __future__ import annotations

import pytest

from sentinel.config import SimulatorConfig
from sentinel.defaults import embedded_config
from sentinel.demo import at_step


@pytest.mark.parametrize("step", [60, 300, 900])
def test_for_asks_for_the_same_number_of_samples_at_a_coarser_step(step: int) -> None:
    base = embedded_config(SimulatorConfig(agents=2))
    coarse = at_step(base, step)
    assert [w.name for w in coarse.watches] == [w.name for w in base.watches]
    for b, c in zip(base.watches, coarse.watches, strict=True):
        assert c.every == max(b.every, step)
        assert c.alert.for_ * b.every == b.alert.for_ * c.every  # same for / every ratio
        if b.alert.density is not None:  # the density window scales as `for` does
            assert c.alert.density is not None and c.alert.density.count == b.alert.density.count
            assert c.alert.density.within * b.every == b.alert.density.within * c.every
        assert c.alert.model_copy(update={"for_": b.alert.for_, "density": b.alert.density}) == b.alert  # nothing else
        assert c.model_copy(update={"every": b.every, "alert": b.alert}) == b


def test_the_embedded_defaults_two_minutes_become_ten_at_five_minute_samples() -> None:
    coarse = {w.name: w for w in at_step(embedded_config(SimulatorConfig(agents=2)), 300).watches}
    assert coarse["agent_task_latency_p95"].alert.for_ == 600
    assert coarse["error_logs"].alert.for_ == 600
    assert coarse["memory_runway"].every == 300 and coarse["memory_runway"].alert.for_ == 0  # already at 5 m
