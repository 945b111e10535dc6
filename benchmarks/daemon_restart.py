"""Restart-to-first-good-cycle after `kill -9` (DESIGN §8: within 30 s, aim 5 s).

Runs ``sentinel run`` on the embedded simulator (3 agents, 2 watches,
accelerated clock) as a subprocess, waits for a checkpoint, kills it with
SIGKILL, restarts it and measures the wall time from spawn to ``/-/ready``
(every watch has completed its first cycle after restoring its checkpoint).
The baseline, measured in the same run, is a bare ``python -c "import
sentinel.daemon"`` (interpreter start + imports): the floor any restart pays.

    python benchmarks/daemon_restart.py [--runs 3]

Writes benchmarks/results/daemon_restart.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

RESULTS = Path(__file__).parent / "results" / "daemon_restart.json"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _spawn(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-c", "from sentinel.cli import main; main()", "run", "--config",
                                 str(config)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _until(cond, timeout: float) -> float:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"condition not met within {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - t0


def one_run(tmp: Path) -> dict[str, float]:
    port = _port()
    doc = {
        "simulator": {"agents": 3, "warmup": "6h", "speed": 1800},
        "store": {"path": str(tmp / "s.db"), "models_dir": str(tmp / "models"), "checkpoint_every": "2s"},
        "server": {"listen": f"127.0.0.1:{port}"},
        "watches": [{"name": "lat", "query": "agent_task_latency_p95"}, {"name": "rate", "query": "agent_task_rate"}],
    }
    config = tmp / "sentinel.yaml"
    config.write_text(yaml.safe_dump(doc))
    log = tmp / "log"
    proc = _spawn(config, log)
    first = _until(lambda: _ready(port), 180)
    _until((tmp / "models" / "rate" / "checkpoint.json").exists, 30)
    time.sleep(3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc = _spawn(config, log)
    restart = _until(lambda: _ready(port), 60)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    if "2 restored from checkpoint" not in log.read_text():
        raise SystemExit("the restart did not restore from the checkpoint")
    return {"first_start_s": first, "restart_s": restart}


def baseline() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import sentinel.daemon"], check=True)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs, imports = [], []
    for _ in range(args.runs):
        imports.append(baseline())
        with tempfile.TemporaryDirectory() as d:
            runs.append(one_run(Path(d)))
    restart = [r["restart_s"] for r in runs]
    out = {
        "runs": runs,
        "import_baseline_s": imports,
        "restart_median_s": statistics.median(restart),
        "restart_max_s": max(restart),
        "restart_over_import_ratio": statistics.median(restart) / statistics.median(imports),
        "goal_s": 30,
        "aim_s": 5,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"restart to first good cycle after kill -9: median {out['restart_median_s']:.2f}s, "
          f"max {out['restart_max_s']:.2f}s (goal 30s, aim 5s); import-only baseline median "
          f"{statistics.median(imports):.2f}s; ratio {out['restart_over_import_ratio']:.2f}")


if __name__ == "__main__":
    main()
