"""A labelled log corpus for grouping accuracy: realistic formats, ground-truth template ids.

Public labelled corpora (Loghub) cannot be fetched here, so this generates
lines in the styles of several well-known systems (HDFS, Apache error log,
OpenSSH, Spark, Zookeeper, Windows CBS, a generic JSON-ish service, and
sentinel's own agent fleet), each from a known template with variables drawn
from realistic value shapes: numbers, IPs with ports, block ids, hex, UUIDs,
paths, durations, host names, user names and other *words* (the hard case
for miners: a variable that looks like a constant).

The templates are written independently of sentinel's masking rules, and the
variable shapes come from the variety seen in real logs, not from what the
masker handles; a benchmark on it is still only a proxy for Loghub.

>>> lines, truth = corpus(200, seed=1)
>>> len(lines) == len(truth) == 200
True
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

Gen = Callable[[random.Random], str]

_USERS = ["root", "admin", "oracle", "test", "guest", "ubuntu", "git", "postgres", "jenkins", "bob", "alice", "fztu"]
_HOSTS = ["node-a", "worker7.example.org", "db.internal", "api.example.com", "LabSZ", "combo", "mesos-master-1"]
_TOOLS = ["web_search", "code_exec", "file_read", "sql_query", "http_get", "calculator"]
_MODELS = ["gpt-4o", "claude-3-5-sonnet", "llama-3.1-70b", "mistral-large"]
_STATES = ["RUNNING", "FINISHED", "FAILED", "KILLED", "PENDING"]
_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "zeta"]


def _int(lo: int, hi: int) -> Gen:
    return lambda r: str(r.randint(lo, hi))


def _ip(r: random.Random) -> str:
    return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def _ipport(r: random.Random) -> str:
    return f"{_ip(r)}:{r.randint(1024, 65535)}"


def _ip6(r: random.Random) -> str:
    return "2001:db8:" + ":".join(f"{r.randint(0, 65535):x}" for _ in range(3)) + "::" + f"{r.randint(1, 4095):x}"


def _blk(r: random.Random) -> str:
    return f"blk_{r.choice(['', '-'])}{r.randint(10**17, 10**19 - 1)}"


def _hex(n: int) -> Gen:
    return lambda r: "".join(r.choice("0123456789abcdef") for _ in range(n))


def _uuid(r: random.Random) -> str:
    h = _hex(32)(r)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _path(r: random.Random) -> str:
    parts = [r.choice(["var", "opt", "home", "mnt", "usr", "tmp", "data"])]
    parts += [r.choice(_WORDS + _USERS) for _ in range(r.randint(1, 3))]
    return "/" + "/".join(parts) + r.choice(["", ".log", ".conf", f"/part-{r.randint(0, 99999):05d}"])


def _dur(r: random.Random) -> str:
    return r.choice([f"{r.randint(1, 999)}ms", f"{r.uniform(0.1, 60):.2f}s", f"{r.randint(1, 90)}s"])


def _choice(options: list[str]) -> Gen:
    return lambda r: r.choice(options)


def _email(r: random.Random) -> str:
    return f"{r.choice(_USERS)}.{r.choice(_WORDS)}@{r.choice(['example.com', 'corp.example.org', 'mail.test'])}"


def _token(r: random.Random) -> str:
    return "sk-" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(32))


def _float(r: random.Random) -> str:
    return f"{r.uniform(0, 1000):.{r.randint(1, 3)}f}"


def _version(r: random.Random) -> str:
    return f"{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}"


def _stage(r: random.Random) -> str:
    return f"{r.randint(0, 40)}.{r.randint(0, 3)}"


def _app(r: random.Random) -> str:
    return f"application_{r.randint(1400000000000, 1500000000000)}_{r.randint(1, 9999):04d}"


def _kv_list(r: random.Random) -> str:
    return ", ".join(f"{r.choice(_WORDS)}={r.randint(0, 99)}" for _ in range(r.randint(1, 3)))


# (format, template with {} slots, generators) — each template is one ground-truth group
_TEMPLATES: list[tuple[str, str, tuple[Gen, ...]]] = [
    # HDFS-like
    ("hdfs", "PacketResponder {} for block {} terminating", (_int(0, 2), _blk)),
    ("hdfs", "Received block {} of size {} from /{}", (_blk, _int(1, 67108864), _ip)),
    ("hdfs", "Receiving block {} src: /{} dest: /{}", (_blk, _ipport, _ipport)),
    (
        "hdfs",
        "BLOCK* NameSystem.addStoredBlock: blockMap updated: {} is added to {} size {}",
        (_ipport, _blk, _int(1, 67108864)),
    ),
    ("hdfs", "BLOCK* NameSystem.allocateBlock: {}. {}", (_path, _blk)),
    ("hdfs", "Verification succeeded for {}", (_blk,)),
    ("hdfs", "Deleting block {} file {}", (_blk, _path)),
    ("hdfs", "{} Served block {} to /{}", (_ipport, _blk, _ip)),
    ("hdfs", "{}:Got exception while serving {} to /{}:", (_ipport, _blk, _ip)),
    ("hdfs", "BLOCK* ask {} to replicate {} to datanode(s) {}", (_ipport, _blk, _ipport)),
    # Apache error log
    ("apache", "jk2_init() Found child {} in scoreboard slot {}", (_int(1000, 30000), _int(1, 12))),
    ("apache", "workerEnv.init() ok {}", (_path,)),
    ("apache", "mod_jk child workerEnv in error state {}", (_int(1, 9),)),
    ("apache", "[client {}] Directory index forbidden by rule: {}", (_ip, _path)),
    ("apache", "[client {}] File does not exist: {}", (_ip, _path)),
    ("apache", "jk2_init() Can't find child {} in scoreboard", (_int(1000, 30000),)),
    ("apache", "mod_jk child init {} {}", (_int(0, 1), _int(-2, 0))),
    # OpenSSH
    ("ssh", "Failed password for {} from {} port {} ssh2", (_choice(_USERS), _ip, _int(1024, 65535))),
    ("ssh", "Failed password for invalid user {} from {} port {} ssh2", (_choice(_USERS), _ip, _int(1024, 65535))),
    ("ssh", "Accepted password for {} from {} port {} ssh2", (_choice(_USERS), _ip, _int(1024, 65535))),
    ("ssh", "Invalid user {} from {}", (_choice(_USERS), _ip)),
    ("ssh", "Connection closed by {} [preauth]", (_ip,)),
    ("ssh", "Received disconnect from {}: {}: Bye Bye [preauth]", (_ip, _int(3, 14))),
    ("ssh", "pam_unix(sshd:session): session opened for user {} by (uid={})", (_choice(_USERS), _int(0, 1000))),
    ("ssh", "pam_unix(sshd:session): session closed for user {}", (_choice(_USERS),)),
    (
        "ssh",
        "pam_unix(sshd:auth): authentication failure; logname= uid={} euid={} tty=ssh ruser= rhost={} user={}",
        (_int(0, 0), _int(0, 0), _ip, _choice(_USERS)),
    ),
    (
        "ssh",
        "reverse mapping checking getaddrinfo for {} [{}] failed - POSSIBLE BREAK-IN ATTEMPT!",
        (_choice(_HOSTS), _ip),
    ),
    ("ssh", "Did not receive identification string from {}", (_ip,)),
    (
        "ssh",
        "message repeated {} times: [ Failed password for root from {} port {}]",
        (_int(2, 9), _ip, _int(1024, 65535)),
    ),
    # Spark
    ("spark", "Running task {} in stage {} (TID {})", (_stage, _stage, _int(0, 9999))),
    (
        "spark",
        "Finished task {} in stage {} (TID {}). {} bytes result sent to driver",
        (_stage, _stage, _int(0, 9999), _int(500, 3000)),
    ),
    ("spark", "Found block rdd_{}_{} locally", (_int(0, 60), _int(0, 60))),
    ("spark", "Started reading broadcast variable {}", (_int(0, 60),)),
    ("spark", "Reading broadcast variable {} took {} ms", (_int(0, 60), _int(1, 300))),
    (
        "spark",
        "Block broadcast_{} stored as values in memory (estimated size {} KB, free {} MB)",
        (_int(0, 60), _float, _float),
    ),
    ("spark", "Changing view acls to: {}", (_choice(_USERS),)),
    ("spark", "Registered signal handlers for [TERM, HUP, INT]", ()),
    ("spark", "Submitting application {} to ResourceManager", (_app,)),
    ("spark", "Application report for {} (state: {})", (_app, _choice(_STATES))),
    # Zookeeper
    ("zk", "Accepted socket connection from /{}", (_ipport,)),
    ("zk", "Client attempting to establish new session at /{}", (_ipport,)),
    (
        "zk",
        "Established session 0x{} with negotiated timeout {} for client /{}",
        (_hex(15), _int(10000, 40000), _ipport),
    ),
    ("zk", "Closed socket connection for client /{} which had sessionid 0x{}", (_ipport, _hex(15))),
    ("zk", "Expiring session 0x{}, timeout of {}ms exceeded", (_hex(15), _int(10000, 40000))),
    (
        "zk",
        "Notification: {} (n.leader), 0x{} (n.zxid), 0x{} (n.round), LOOKING (n.state), {} (n.sid)",
        (_int(1, 3), _hex(9), _int(1, 9), _int(1, 3)),
    ),
    ("zk", "Connection broken for id {}, my id = {}, error =", (_int(1, 3), _int(1, 3))),
    # Windows CBS-like
    ("win", "Loaded Servicing Stack v{} with Core: {}\\cbscore.dll", (_version, _path)),
    (
        "win",
        "Session: {}_{} initialized by client WindowsUpdateAgent.",
        (_int(30546173, 30546999), _int(100000000, 999999999)),
    ),
    ("win", "Warning: Unrecognized packageExtended attribute.", ()),
    (
        "win",
        "Read out cached package applicability for package: {}, ApplicableState: {}, CurrentState:{}",
        (_choice(["Package_for_KB2919355", "Package_for_KB3000850"]), _int(0, 112), _int(0, 112)),
    ),
    # generic JSON-ish / key=value service
    (
        "svc",
        'level=info msg="request served" method={} path={} status={} duration={} user={}',
        (_choice(["GET", "POST", "PUT"]), _path, _choice(["200", "201", "204"]), _dur, _email),
    ),
    ("svc", 'level=error msg="upstream timeout" upstream={} after={} trace_id={}', (_ipport, _dur, _hex(32))),
    ("svc", '{{"event": "login", "user": "{}", "ip": "{}", "ok": true}}', (_email, _ip6)),
    ("svc", '{{"event": "cache_miss", "key": "{}", "size": {}}}', (_uuid, _int(0, 10**6))),
    ("svc", "auth ok for {} with token {}", (_email, _token)),
    ("svc", "config reloaded: {}", (_kv_list,)),
    ("svc", "worker {} started on {} (pid {})", (_choice(_WORDS), _choice(_HOSTS), _int(100, 65535))),
    ("svc", "worker {} stopped: {}", (_choice(_WORDS), _choice(["SIGTERM", "SIGKILL", "exit"]))),
    # agent fleet
    ("agent", "tool call {} finished in {} status={}", (_choice(_TOOLS), _dur, _choice(["ok", "error"]))),
    (
        "agent",
        "LLM request to {} used {} input and {} output tokens",
        (_choice(_MODELS), _int(10, 8000), _int(1, 4000)),
    ),
    ("agent", "task {} completed in {}", (_uuid, _dur)),
    ("agent", "task {} failed: tool {} raised TimeoutError after {}", (_uuid, _choice(_TOOLS), _dur)),
    ("agent", "retrying {} (attempt {}/{}) in {}", (_choice(_TOOLS), _int(1, 3), _int(3, 5), _dur)),
    ("agent", "memory usage {} MB exceeds soft limit {} MB", (_int(500, 4000), _int(500, 4000))),
    ("agent", "queue depth {} above watermark", (_int(10, 900),)),
    # the hard cases: a host name first, near-identical templates, free-text variables of any length
    ("hard", "{}: heartbeat ok, load {}", (_choice(_HOSTS), _float)),
    ("hard", "{}: heartbeat missed, last seen {} ago", (_choice(_HOSTS), _dur)),
    ("hard", "connection to {} closed by peer", (_choice(_HOSTS),)),
    ("hard", "connection to {} refused by peer", (_choice(_HOSTS),)),
    ("hard", "job {} state changed to {}", (_choice(_WORDS), _choice(_STATES))),
    (
        "hard",
        "request aborted: {}",
        (_choice(["connection reset by peer", "timeout", "client closed the stream early", "TLS handshake failed"]),),
    ),
    (
        "hard",
        "user {} logged in from {} using {}",
        (_choice(_USERS), _choice(_HOSTS), _choice(["password", "publickey"])),
    ),
    ("hard", "user {} logged out from {}", (_choice(_USERS), _choice(_HOSTS))),
    ("hard", "mounted {} on {} type {} ({})", (_path, _path, _choice(["ext4", "xfs", "tmpfs"]), _kv_list)),
]


def corpus(n: int, seed: int = 0, formats: set[str] | None = None) -> tuple[list[str], list[int]]:
    """``n`` lines and their true template ids, templates drawn with a skewed (Zipf-like) frequency."""
    return draw(_TEMPLATES, n, seed, formats)


def draw(table: list, n: int, seed: int, names: set[str] | None, spread: int = 7919) -> tuple[list[str], list[int]]:
    """``n`` lines of ``table``'s templates (rows ``(name, format, generators)``; only ``names`` if given),
    each template's frequency ``1 / (1 + (k * spread) mod m)``: a skewed, Zipf-like mix."""
    rng = random.Random(seed)
    chosen = [i for i, t in enumerate(table) if names is None or t[0] in names]
    weights = [1.0 / (1 + (k * spread) % len(chosen)) for k in range(len(chosen))]
    picks = rng.choices(chosen, weights=weights, k=n)
    lines = []
    for i in picks:
        _, fmt, gens = table[i]
        lines.append(fmt.format(*(g(rng) for g in gens)))
    return lines, picks


def formats() -> list[str]:
    """The format names, in order."""
    return list(dict.fromkeys(t[0] for t in _TEMPLATES))
