"""The kernel cache does not pile up: stale directories go, recent ones and the newest few stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sentinel.detect import jit

DAY = 86400.0


def _dirs(base: Path, ages_days: list[float], now: float) -> list[Path]:
    paths = []
    for i, age in enumerate(ages_days):
        path = base / f"numba-{i:02d}"
        path.mkdir()
        (path / "kernel.nbi").write_bytes(b"x")
        os.utime(path, (now - age * DAY, now - age * DAY))
        paths.append(path)
    return paths


def test_only_stale_directories_beyond_the_newest_few_are_removed(tmp_path: Path) -> None:
    now = 1e9
    paths = _dirs(tmp_path, [0, 1, 2, 3, 8, 9, 30], now)  # four recent (one beyond KEEP), three stale
    (tmp_path / "other").mkdir()
    os.utime(tmp_path / "other", (0, 0))
    removed = jit.prune_stale(tmp_path, now=now)
    assert sorted(removed) == paths[4:]
    assert [p.exists() for p in paths] == [True] * 4 + [False] * 3
    assert (tmp_path / "other").exists()  # not a kernel cache directory


def test_the_newest_are_kept_however_old(tmp_path: Path) -> None:
    now = 1e9
    paths = _dirs(tmp_path, [100, 200, 300, 400], now)
    assert jit.prune_stale(tmp_path, now=now) == [paths[3]]


def test_a_new_cache_directory_prunes_its_stale_siblings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    stale = _dirs(tmp_path, [10, 11, 12, 13], now=time.time())
    used = Path(jit._cache_dir(["sentinel.detect.calibrate"], "test-version"))
    assert used.parent == tmp_path and used.exists()
    assert [p.exists() for p in stale] == [True, True, False, False]  # the new one plus the 2 newest make KEEP
    os.utime(stale[0], (0, 0))
    assert Path(jit._cache_dir(["sentinel.detect.calibrate"], "test-version")) == used  # existing: no pruning
    assert stale[0].exists()
