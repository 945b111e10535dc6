"""A real Elasticsearch node for tests, on a free loopback port, as a non-root user.

Nothing here is a mock.  ``scripts/install-elasticsearch.sh`` fetches Elastic's
runnable node (``org.elasticsearch.distribution.integ-test-zip``) from Maven
Central once and creates the service user; :func:`start_elasticsearch` then runs
it with its own temp config, data and log dirs: single-node discovery,
security off, 512 MB heap, HTTP and transport bound to 127.0.0.1 only.

The integ-test node is stripped down: ``GET /`` answers 405 and only the
core server, security, netty and APM modules exist (no ``multi_terms``, no
ingest pipelines).  What sentinel uses was checked on it: ``date_histogram``,
``composite`` (paged with ``after``), ``query_string``, point in time +
``search_after`` on ``_shard_doc``, bulk, index templates.

Fixture (register it in a test module with ``from tests.es_service import elasticsearch  # noqa: F401``):

``elasticsearch`` (session) -> :class:`ElasticsearchServer` with ``url``, ``port``,
``client()`` (a fresh ``elasticsearch.Elasticsearch``), ``stop()`` / ``start()``
(same port and data, for node-down tests).  Skips the test when the node is not
installed and cannot be installed (no Maven); fails loudly when it is installed
but does not start.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.services import ServiceError, free_port

REPO = Path(__file__).resolve().parent.parent
ES_VERSION = os.environ.get("SENTINEL_ES_VERSION", "8.19.3")
ES_USER = os.environ.get("SENTINEL_ES_USER", "sentinel-es")
ES_JAVA_HOME = os.environ.get("SENTINEL_ES_JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64")
_READY_TIMEOUT = 120.0

__all__ = ["ElasticsearchServer", "elasticsearch", "install_elasticsearch", "start_elasticsearch"]


def install_elasticsearch() -> Path:
    """The node's install dir, running the install script first if needed (skips without Maven)."""
    home = Path(os.environ.get("SENTINEL_ES_HOME", REPO / ".services" / "elasticsearch"))
    dest = home / f"elasticsearch-{ES_VERSION}"
    if (dest / "bin" / "elasticsearch").exists() and _user_exists():
        return dest
    if shutil.which("mvn") is None:
        pytest.skip("Elasticsearch not installed and mvn missing (run scripts/install-elasticsearch.sh)")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-elasticsearch.sh")],
        capture_output=True, text=True, check=False,
        env={**os.environ, "SENTINEL_ES_VERSION": ES_VERSION, "SENTINEL_ES_HOME": str(home)},
    )
    if proc.returncode != 0:
        raise ServiceError(f"install-elasticsearch.sh failed: {proc.stderr.strip()[-1500:]}")
    return dest


def _user_exists() -> bool:
    try:
        pwd.getpwnam(ES_USER)
        return True
    except KeyError:
        return os.geteuid() != 0


class ElasticsearchServer:
    """One node: ``start()`` blocks until cluster health is at least yellow; ``stop()`` is idempotent."""

    def __init__(self, install: Path, workdir: Path, port: int) -> None:
        self.install = install
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / "elasticsearch.out"
        self.proc: subprocess.Popen[bytes] | None = None
        conf = workdir / "config"
        if not conf.exists():
            shutil.copytree(install / "config", conf)
            for d in ("data", "logs", "tmp"):
                (workdir / d).mkdir()
            (conf / "elasticsearch.yml").write_text(
                "\n".join([
                    "cluster.name: sentinel-test",
                    "node.name: node-1",
                    f"path.data: {workdir / 'data'}",
                    f"path.logs: {workdir / 'logs'}",
                    "network.host: 127.0.0.1",
                    f"http.port: {port}",
                    f"transport.port: {free_port()}",
                    "discovery.type: single-node",
                    "xpack.security.enabled: false",
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ])
            )
            if os.geteuid() == 0:
                ids = pwd.getpwnam(ES_USER)
                for path in [workdir, *workdir.rglob("*")]:
                    os.chown(path, ids.pw_uid, ids.pw_gid)
                workdir.chmod(0o755)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": ES_JAVA_HOME,
            "ES_PATH_CONF": str(self.workdir / "config"),
            "ES_TMPDIR": str(self.workdir / "tmp"),
            "ES_JAVA_OPTS": "-Xms512m -Xmx512m",
            "HOME": str(self.workdir),
        }
        argv = [str(self.install / "bin" / "elasticsearch")]
        if os.geteuid() == 0:
            argv = ["setpriv", f"--reuid={ES_USER}", f"--regid={ES_USER}", "--init-groups", *argv]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(f"elasticsearch exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                url = f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s"
                with urllib.request.urlopen(url, timeout=3) as r:
                    if json.loads(r.read()).get("status") in ("yellow", "green"):
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ServiceError(f"elasticsearch not healthy after {_READY_TIMEOUT:.0f}s: {self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the node's process group, SIGKILL after 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def client(self, **kw: object) -> Elasticsearch:
        kw.setdefault("request_timeout", 30)
        return Elasticsearch(self.url, **kw)  # type: ignore[arg-type]

    def log_tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_elasticsearch(workdir: Path | None = None) -> ElasticsearchServer:
    """Install if needed and start a node in ``workdir`` (a new temp dir by default)."""
    install = install_elasticsearch()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="sentinel-es-"))
    workdir.chmod(0o755)  # the node runs as another user
    err: ServiceError | None = None
    for attempt in range(3):
        server = ElasticsearchServer(install, workdir / f"node{attempt}", free_port())
        try:
            server.start()
            return server
        except ServiceError as exc:
            if "BindException" not in str(exc) and "Address already in use" not in str(exc):
                raise
            err = exc
    assert err is not None
    raise err


@pytest.fixture(scope="session")
def elasticsearch() -> Iterator[ElasticsearchServer]:
    # Not under pytest's tmp dir: that one is 0700 root, and the node runs as another user.
    workdir = Path(tempfile.mkdtemp(prefix="sentinel-es-"))
    try:
        server = start_elasticsearch(workdir)
        yield server
        server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
