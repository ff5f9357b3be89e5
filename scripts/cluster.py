"""A local pmh cluster on Debian's engines, for trying failover and for the failover benchmark.

    scripts/cluster up [--nodes N] [--pgbouncer] [--json]   etcd, 3 Patroni/PostgreSQL members, HAProxy, N pmh nodes
    scripts/cluster status [--json]           members (role, lag) from Patroni's /cluster, nodes' health
    scripts/cluster env [--json]              PMH_* settings for running pmh commands against the cluster
    scripts/cluster kill-primary [--json]     kill -9 of the current primary's postmaster
    scripts/cluster down                      stop everything it started, remove its data (idempotent)

Standard library only (it runs with the system's python3; the pmh nodes run from .venv, which
``up`` creates with scripts/bootstrap when missing). Everything the cluster owns lives under one
directory (``PMH_CLUSTER_DIR``, default ``var/cluster`` in the checkout) and on loopback ports from
``PMH_CLUSTER_BASE_PORT`` (default 15400) upwards; ``state.json`` there records every process it
started, so ``status``, ``kill-primary`` and ``down`` act on exactly those and on nothing else.
docs/deployment.md ("A local cluster") explains the choices.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_PACKAGES = {"patroni": "patroni", "etcd": "etcd-server", "haproxy": "haproxy", "pgbouncer": "pgbouncer"}
MEMBERS = 3
SCOPE = "pmh"
DATABASE = "pmh"
UP_TIMEOUT = float(os.environ.get("PMH_CLUSTER_TIMEOUT", "180"))
# Ports the machine already uses for other services; the layout below must never reach them.
RESERVED = {5432, 6379, 3306, 5672, 1883, 4222, 4369, 25672, 8000}

# Patroni's failover timing: a primary that disappears is replaced within about ttl seconds, one that
# crashes (its postmaster killed) at once (master_start_timeout 0), since synchronous mode guarantees
# the promoted member holds every acknowledged commit. loop_wait + 2 × retry_timeout ≤ ttl.
DCS = {
    "ttl": 10,
    "loop_wait": 2,
    "retry_timeout": 4,
    "maximum_lag_on_failover": 1048576,
    "master_start_timeout": 0,
    "synchronous_mode": True,
    "synchronous_mode_strict": False,
    "postgresql": {
        "use_pg_rewind": True,
        "use_slots": True,
        "parameters": {
            "max_connections": 200,
            "wal_level": "replica",
            "hot_standby": "on",
            "wal_log_hints": "on",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "synchronous_commit": "on",
            "wal_keep_size": "256MB",
            "password_encryption": "scram-sha-256",
        },
    },
}


class ClusterError(Exception):
    """A step of the cluster failed; the message says which and where its log is."""


# --- layout and state ---------------------------------------------------------------------------


def cluster_dir() -> Path:
    return Path(os.environ.get("PMH_CLUSTER_DIR", ROOT / "var" / "cluster")).resolve()


def base_port() -> int:
    return int(os.environ.get("PMH_CLUSTER_BASE_PORT", "15400"))


def ports(base: int, nodes: int) -> dict[str, Any]:
    """Return every port of the cluster, all from ``base`` upwards, none of them a reserved one."""
    layout = {
        "etcd_client": base,
        "etcd_peer": base + 1,
        "rw": base + 2,
        "ro": base + 3,
        "api": base + 4,
        "pgbouncer": base + 5,
        "haproxy_stats": base + 6,
        "postgres": [base + 10 + i for i in range(MEMBERS)],
        "patroni": [base + 20 + i for i in range(MEMBERS)],
        "nodes": [base + 30 + i for i in range(nodes)],
    }
    used = [p for value in layout.values() for p in (value if isinstance(value, list) else [value])]
    clash = sorted(set(used) & RESERVED)
    if clash or max(used) > 65535 or base < 1024:
        raise ClusterError(
            f"ポート {base} からの割り当てが使えません（重なり: {clash}）。PMH_CLUSTER_BASE_PORT を変えてください"
        )
    return layout


def state_path() -> Path:
    return cluster_dir() / "state.json"


def load_state() -> dict[str, Any] | None:
    path = state_path()
    if not path.exists():
        return None
    return dict(json.loads(path.read_text()))


def save_state(state: dict[str, Any]) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # The state holds the cluster's passwords and keys: owner-only from the start.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(state, handle, indent=2)
    temporary.replace(path)


def say(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- processes --------------------------------------------------------------------------------


def db_user() -> str | None:
    """Return the OS user PostgreSQL runs as: ``postgres`` when we are root (PostgreSQL refuses root)."""
    return "postgres" if os.geteuid() == 0 else None


def start(
    state: dict[str, Any],
    name: str,
    command: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> int:
    """Start a daemon in its own session, its output in ``log``; record its pid in the state."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            start_new_session=True,
            # A daemon run as another user works from "/": Patroni's worker processes chdir back to the
            # parent's directory, which that user may not enter (a 0700 var/ from `scripts/serve`).
            cwd="/" if user else log.parent,
        )
    state["processes"][name] = {"pid": process.pid, "log": str(log), "command": command[0]}
    save_state(state)
    return process.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(FileNotFoundError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def same_process(entry: dict[str, Any]) -> bool:
    """Whether the recorded pid is still the process we started (not a recycled pid)."""
    pid = int(entry["pid"])
    if not alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return any(Path(part.decode(errors="replace")).name == Path(entry["command"]).name for part in cmdline[:2])


def stop(entry: dict[str, Any], grace: float = 20.0) -> None:
    """SIGTERM a recorded process, then SIGKILL after ``grace`` seconds."""
    if not same_process(entry):
        return
    pid = int(entry["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError, PermissionError):
        return None


def is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a postgres process started on ``data_dir`` (guards against recycled pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return False
    return "postgres" in cmdline and str(data_dir) in cmdline


# --- HTTP ------------------------------------------------------------------------------------------


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET a URL; return (status, body), status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def wait_for(what: str, check: Any, timeout: float, log: str | None = None) -> Any:
    """Poll ``check()`` until it returns something truthy; raise a clear error after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    tail = ""
    if log and Path(log).exists():
        tail = "\n--- " + log + " (末尾) ---\n" + Path(log).read_text(errors="replace")[-3000:]
    raise ClusterError(f"{what} が {timeout:.0f} 秒以内に準備できませんでした{tail}")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- installation ----------------------------------------------------------------------------------


def ensure_packages() -> None:
    """Install Debian's patroni, etcd-server, haproxy and pgbouncer when missing (root only)."""
    missing = [package for command, package in DEBIAN_PACKAGES.items() if shutil.which(command) is None]
    if not (PG_BIN / "postgres").exists():
        missing.append("postgresql-15")
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterError(
            f"次のDebianパッケージが必要です: {' '.join(missing)}（sudo apt-get install -y {' '.join(missing)}）"
        )
    say(f"Debianパッケージをインストールします: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_venv() -> Path:
    pmh = ROOT / ".venv" / "bin" / "pmh"
    if not pmh.exists():
        say(".venv がないので scripts/bootstrap で作成します")
        subprocess.run([str(ROOT / "scripts" / "bootstrap")], check=True, cwd=ROOT, stdout=sys.stderr)
    return pmh


# --- configuration files ------------------------------------------------------------------------


def members_root(directory: Path) -> Path:
    """Where the members' data lives: inside the cluster directory when the postgres user can reach
    it, else under /var/tmp (a checkout in a 0700 home directory cannot be entered by postgres)."""
    inside = directory / "members"
    user = db_user()
    if user is None:
        return inside
    reachable = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(directory)], check=False).returncode
    if reachable == 0:
        return inside
    return Path("/var/tmp") / f"pmh-cluster-{hashlib.sha256(str(directory).encode()).hexdigest()[:12]}"


def patroni_config(state: dict[str, Any], index: int) -> dict[str, Any]:
    p = state["ports"]
    secrets_ = state["secrets"]
    name = f"pg{index + 1}"
    data = Path(state["members_root"]) / name
    return {
        "scope": SCOPE,
        "namespace": f"/pmh-cluster-{p['etcd_client']}/",
        "name": name,
        "log": {"level": "INFO"},
        "restapi": {
            "listen": f"127.0.0.1:{p['patroni'][index]}",
            "connect_address": f"127.0.0.1:{p['patroni'][index]}",
        },
        "etcd3": {"hosts": [f"127.0.0.1:{p['etcd_client']}"]},
        "bootstrap": {
            "dcs": DCS,
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
            "pg_hba": [
                "local all all trust",
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{p['postgres'][index]}",
            "connect_address": f"127.0.0.1:{p['postgres'][index]}",
            "data_dir": str(data / "data"),
            "bin_dir": str(PG_BIN),
            "pgpass": str(data / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": secrets_["postgres"]},
                "replication": {"username": "replicator", "password": secrets_["replicator"]},
                "rewind": {"username": "rewinder", "password": secrets_["rewinder"]},
            },
            "parameters": {"unix_socket_directories": str(data)},
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


def haproxy_config(state: dict[str, Any]) -> str:
    p = state["ports"]

    def members(check: str) -> str:
        return (
            "\n".join(
                f"    server pg{i + 1} 127.0.0.1:{p['postgres'][i]} check port {p['patroni'][i]}"
                for i in range(MEMBERS)
            )
            + f"\n    # Patroni's REST answers 200 on {check} only for a member in that role"
        )

    nodes = "\n".join(f"    server node{i + 1} 127.0.0.1:{port} check" for i, port in enumerate(p["nodes"]))
    return f"""# Written by scripts/cluster; do not edit (it is rewritten on every up).
global
    maxconn 4000
    log stderr format short local0 notice

defaults
    log global
    mode tcp
    retries 2
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 2s

# Read-write: the current primary only. When Patroni promotes another member the old one's open
# connections are cut at once (shutdown-sessions), so the hub's pool reconnects to the new primary.
listen postgres_rw
    bind 127.0.0.1:{p["rw"]}
    option httpchk
    http-check send meth GET uri /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
{members("/primary")}

# Read-only: the replicas, round robin.
listen postgres_ro
    bind 127.0.0.1:{p["ro"]}
    balance roundrobin
    option httpchk
    http-check send meth GET uri /replica
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
{members("/replica")}

# The front: HTTP, round robin over the hub nodes (each node serves every route).
listen pmh_api
    bind 127.0.0.1:{p["api"]}
    mode http
    balance roundrobin
    option redispatch
    option forwardfor
    timeout client 120s
    timeout server 120s
    option httpchk
    http-check send meth GET uri /static/pmh.css
    http-check expect status 200
    default-server inter 2s fall 2 rise 1
{nodes}

listen stats
    bind 127.0.0.1:{p["haproxy_stats"]}
    mode http
    stats enable
    stats uri /
"""


def pgbouncer_files(state: dict[str, Any], directory: Path) -> Path:
    p, s = state["ports"], state["secrets"]
    userlist = directory / "userlist.txt"
    userlist.write_text(f'"pmh_app" "{s["pmh_app"]}"\n')
    userlist.chmod(0o600)
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
{DATABASE} = host=127.0.0.1 port={p["rw"]} dbname={DATABASE}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {p["pgbouncer"]}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {userlist}
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
server_check_delay = 1
server_lifetime = 60
; after a failover: give up on the dead primary within seconds (defaults 15 s and 15 s), and bound
; a client's wait for a server connection (default 120 s) so the hub answers 503 instead of hanging
server_connect_timeout = 3
server_login_retry = 1
query_wait_timeout = 10
logfile = {directory / "pgbouncer.log"}
pidfile =
"""
    )
    return ini


# --- URLs ----------------------------------------------------------------------------------------


def url(state: dict[str, Any], role: str, port_name: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://{role}:{state['secrets'][role]}@127.0.0.1:{state['ports'][port_name]}/{DATABASE}"


def pmh_env(state: dict[str, Any]) -> dict[str, str]:
    """Return the PMH_* settings every node, and any pmh command run against the cluster, shares."""
    env = {
        "PMH_DATABASE_URL": url(state, "pmh_app", "rw"),
        "PMH_DATABASE_READ_URL": url(state, "pmh_app", "ro"),
        "PMH_MIGRATION_DATABASE_URL": url(state, "postgres", "rw"),
        "PMH_SECRET_KEY": state["secrets"]["pmh_secret_key"],
        "PMH_AUDIT_KEY": state["secrets"]["pmh_audit_key"],
        # The front HAProxy adds X-Forwarded-For; only from it is that header believed (rate limits).
        "PMH_TRUSTED_PROXIES": "127.0.0.1",
        "PMH_LOG_LEVEL": "WARNING",
    }
    if state.get("pgbouncer"):
        # With --pgbouncer the hub's writes go through PgBouncer (transaction mode) to the rw port;
        # migrations keep the direct URL.
        env["PMH_DATABASE_URL"] = url(state, "pmh_app", "pgbouncer")
        env["PMH_DATABASE_PGBOUNCER"] = "true"
    return env


def summary(state: dict[str, Any]) -> dict[str, Any]:
    p = state["ports"]
    return {
        "api": f"http://127.0.0.1:{p['api']}",
        "rw": f"postgresql://127.0.0.1:{p['rw']}/{DATABASE}",
        "ro": f"postgresql://127.0.0.1:{p['ro']}/{DATABASE}",
        "pgbouncer": f"postgresql://127.0.0.1:{p['pgbouncer']}/{DATABASE}" if state.get("pgbouncer") else None,
        "nodes": [f"http://127.0.0.1:{port}" for port in p["nodes"]],
        "members": members(state),
        "directory": str(cluster_dir()),
    }


# --- Patroni's view -------------------------------------------------------------------------------


def patroni_cluster(state: dict[str, Any]) -> dict[str, Any] | None:
    """Return Patroni's GET /cluster from the first member that answers."""
    for port in state["ports"]["patroni"]:
        status, body = http_get(f"http://127.0.0.1:{port}/cluster", timeout=1.5)
        if status == 200:
            return dict(json.loads(body))
    return None


def members(state: dict[str, Any]) -> list[dict[str, Any]]:
    view = patroni_cluster(state) or {"members": []}
    known = {m["name"]: m for m in view.get("members", [])}
    rows = []
    for i in range(MEMBERS):
        name = f"pg{i + 1}"
        m = known.get(name, {})
        rows.append(
            {
                "name": name,
                "role": m.get("role", "unknown"),
                "state": m.get("state", "unreachable"),
                "lag": m.get("lag"),
                "timeline": m.get("timeline"),
                "url": f"postgresql://127.0.0.1:{state['ports']['postgres'][i]}/{DATABASE}",
                "patroni": f"http://127.0.0.1:{state['ports']['patroni'][i]}",
            }
        )
    return rows


def primary(state: dict[str, Any]) -> dict[str, Any] | None:
    for member in members(state):
        if member["role"] == "leader" and member["state"] == "running":
            return member
    return None


def healthy_cluster(state: dict[str, Any]) -> bool:
    """A running leader and two streaming replicas, one of them synchronous."""
    rows = members(state)
    leader = [m for m in rows if m["role"] == "leader" and m["state"] == "running"]
    replicas = [m for m in rows if m["role"] in ("replica", "sync_standby") and m["state"] in ("running", "streaming")]
    sync = [m for m in rows if m["role"] == "sync_standby"]
    return len(leader) == 1 and len(replicas) == MEMBERS - 1 and len(sync) >= 1


def node_health(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"url": f"http://127.0.0.1:{port}", "healthy": http_get(f"http://127.0.0.1:{port}/static/pmh.css")[0] == 200}
        for port in state["ports"]["nodes"]
    ]


# --- commands ----------------------------------------------------------------------------------------


def psql(state: dict[str, Any], sql: str, database: str = "postgres") -> None:
    p = state["ports"]
    subprocess.run(
        [
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(p["rw"]),
            "-U",
            "postgres",
            "-d",
            database,
        ],
        input=sql,
        text=True,
        check=True,
        env={**os.environ, "PGPASSWORD": state["secrets"]["postgres"], "PGCONNECT_TIMEOUT": "5"},
        stdout=subprocess.DEVNULL,
    )


def up(nodes: int, pgbouncer: bool) -> dict[str, Any]:
    existing = load_state()
    if existing is not None:
        if any(same_process(e) for e in existing["processes"].values()):
            raise ClusterError(
                f"クラスターは起動済みです（{cluster_dir()}）。先に scripts/cluster down を実行してください"
            )
        down(quiet=True)
    ensure_packages()
    pmh = ensure_venv()
    directory = cluster_dir()
    layout = ports(base_port(), nodes)
    busy = [
        port
        for port in [v for value in layout.values() for v in (value if isinstance(value, list) else [value])]
        if not port_free(port)
    ]
    if busy:
        raise ClusterError(
            f"ポートが使用中です: {busy}（別のクラスターが動いていれば PMH_CLUSTER_BASE_PORT を変えてください）"
        )
    directory.mkdir(parents=True, exist_ok=True)
    # The postgres user must be able to walk into the directory to reach its members' data.
    directory.chmod(0o755)
    state: dict[str, Any] = {
        "ports": layout,
        "processes": {},
        "pgbouncer": pgbouncer,
        "members_root": "",
        "secrets": {
            name: secrets.token_hex(16) for name in ("postgres", "replicator", "rewinder", "pmh_app", "pmh_audit_key")
        }
        | {"pmh_secret_key": secrets.token_hex(32)},
    }
    state["members_root"] = str(members_root(directory))
    save_state(state)
    try:
        _start_everything(state, directory, pmh, nodes, pgbouncer)
    except BaseException:
        say("起動に失敗したので、起動したものを止めます")
        down(quiet=True, keep_logs=True)
        raise
    return summary(state)


def _start_everything(state: dict[str, Any], directory: Path, pmh: Path, nodes: int, pgbouncer: bool) -> None:
    p = state["ports"]
    user = db_user()
    # etcd: one member on loopback is enough for a local cluster (production: three, across zones).
    say(f"etcd を起動します（127.0.0.1:{p['etcd_client']}）")
    etcd_log = directory / "etcd" / "etcd.log"
    start(
        state,
        "etcd",
        [
            "etcd",
            "--name=etcd1",
            f"--data-dir={directory / 'etcd' / 'data'}",
            f"--listen-client-urls=http://127.0.0.1:{p['etcd_client']}",
            f"--advertise-client-urls=http://127.0.0.1:{p['etcd_client']}",
            f"--listen-peer-urls=http://127.0.0.1:{p['etcd_peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd_peer']}",
            f"--initial-cluster=etcd1=http://127.0.0.1:{p['etcd_peer']}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token=pmh-{p['etcd_client']}",
            "--log-level=warn",
        ],
        etcd_log,
        env={**os.environ, "ETCD_UNSUPPORTED_ARCH": ""},
    )
    wait_for("etcd", lambda: http_get(f"http://127.0.0.1:{p['etcd_client']}/health")[0] == 200, 30, str(etcd_log))

    root = Path(state["members_root"])
    root.mkdir(parents=True, exist_ok=True)
    if user:
        account = pwd.getpwnam(user)
        os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    for i in range(MEMBERS):
        name = f"pg{i + 1}"
        member_dir = root / name
        member_dir.mkdir(parents=True, exist_ok=True)
        member_dir.chmod(0o700)
        config = member_dir / "patroni.yml"
        # JSON is YAML: the standard library writes Patroni's configuration.
        config.write_text(json.dumps(patroni_config(state, i), indent=2))
        config.chmod(0o600)
        if user:
            account = pwd.getpwnam(user)
            for path in (member_dir, config):
                os.chown(path, account.pw_uid, account.pw_gid)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(member_dir),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        log = directory / "logs" / f"patroni-{name}.log"
        say(f"Patroni {name} を起動します（PostgreSQL 127.0.0.1:{p['postgres'][i]}、REST 127.0.0.1:{p['patroni'][i]}）")
        start(state, f"patroni-{name}", ["patroni", str(config)], log, env=env, user=user)
        if i == 0:
            # The first member bootstraps the cluster (initdb) before the others clone from it.
            wait_for(
                f"Patroni {name}（初期化）",
                lambda: http_get(f"http://127.0.0.1:{p['patroni'][0]}/primary")[0] == 200,
                90,
                str(log),
            )

    haproxy_cfg = directory / "haproxy.cfg"
    haproxy_cfg.write_text(haproxy_config(state))
    say(f"HAProxy を起動します（rw {p['rw']}、ro {p['ro']}、api {p['api']}）")
    check = subprocess.run(["haproxy", "-c", "-q", "-f", str(haproxy_cfg)], capture_output=True, text=True)
    if check.returncode != 0:
        raise ClusterError(f"HAProxy の設定が不正です: {check.stderr}")
    start(state, "haproxy", ["haproxy", "-db", "-f", str(haproxy_cfg)], directory / "logs" / "haproxy.log")

    wait_for(
        "PostgreSQL の3メンバー（主1・同期レプリカを含む2）",
        lambda: healthy_cluster(state),
        UP_TIMEOUT,
        str(directory / "logs" / "patroni-pg2.log"),
    )

    say("データベース pmh を作成します")
    s = state["secrets"]
    wait_for("HAProxy 経由の主（rw）", lambda: _rw_answers(state), 30, str(directory / "logs" / "haproxy.log"))
    # The migrations run as the cluster's superuser: on PostgreSQL 15 only a superuser may set the
    # application role's NOSUPERUSER/NOREPLICATION/NOBYPASSRLS (pmh db create-app-role). The hub's
    # nodes connect as that application role, which owns nothing.
    psql(state, f"CREATE DATABASE {DATABASE};\n")
    psql(state, "REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n", DATABASE)
    if pgbouncer:
        bouncer_dir = directory / "pgbouncer"
        bouncer_dir.mkdir(parents=True, exist_ok=True)
        ini = pgbouncer_files(state, bouncer_dir)
        # pgbouncer refuses to run as root; it runs as the postgres user (which must read its files).
        if user:
            account = pwd.getpwnam(user)
            for path in (bouncer_dir, ini, bouncer_dir / "userlist.txt"):
                os.chown(path, account.pw_uid, account.pw_gid)
        say(f"PgBouncer を起動します（127.0.0.1:{p['pgbouncer']}）")
        start(state, "pgbouncer", ["pgbouncer", str(ini)], bouncer_dir / "pgbouncer.out", user=user)

    env = {**os.environ, **pmh_env(state), "PMH_DATA_DIR": str(directory / "pmh")}
    say("マイグレーションを一度だけ実行します（pmh db upgrade）")
    _run(env, [str(pmh), "db", "upgrade"], directory / "logs" / "migrate.log")
    _run(
        env,
        [str(pmh), "db", "create-app-role", "--role", "pmh_app", "--password", s["pmh_app"]],
        directory / "logs" / "migrate.log",
    )
    # Behind PgBouncer the hub sends no startup options, so the statement bound lives on the role.
    psql(state, "ALTER ROLE pmh_app SET statement_timeout = '120s';\n", DATABASE)

    for i, port in enumerate(p["nodes"]):
        node_dir = directory / "nodes" / f"node{i + 1}"
        node_dir.mkdir(parents=True, exist_ok=True)
        node_env = {**env, "PMH_DATA_DIR": str(node_dir)}
        say(f"pmh ノード {i + 1} を起動します（127.0.0.1:{port}）")
        start(
            state,
            f"node{i + 1}",
            [str(pmh), "serve", "--host", "127.0.0.1", "--port", str(port)],
            directory / "logs" / f"node{i + 1}.log",
            env=node_env,
        )
    for i, port in enumerate(p["nodes"]):
        wait_for(
            f"pmh ノード {i + 1}",
            lambda port=port: http_get(f"http://127.0.0.1:{port}/static/pmh.css")[0] == 200,
            90,
            str(directory / "logs" / f"node{i + 1}.log"),
        )
    wait_for(
        "フロントの HAProxy",
        lambda: http_get(f"http://127.0.0.1:{p['api']}/static/pmh.css")[0] == 200,
        30,
        str(directory / "logs" / "haproxy.log"),
    )


def _rw_answers(state: dict[str, Any]) -> bool:
    p = state["ports"]
    done = subprocess.run(
        ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(p["rw"]), "-t", "2"], check=False, capture_output=True
    )
    return done.returncode == 0


def _run(env: dict[str, str], command: list[str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ClusterError(
            f"{' '.join(command[:4])} が失敗しました（{done.returncode}）: {log}\n{log.read_text()[-2000:]}"
        )


def kill_primary() -> dict[str, Any]:
    state = require_state()
    leader = primary(state)
    if leader is None:
        raise ClusterError("現在の主（primary）がありません（Patroni の /cluster に running の leader がいません）")
    data_dir = Path(state["members_root"]) / leader["name"] / "data"
    pid = postmaster_pid(data_dir)
    if pid is None or not is_postmaster_of(pid, data_dir):
        raise ClusterError(f"{leader['name']} の postmaster が見つかりません（{data_dir}/postmaster.pid）")
    os.kill(pid, signal.SIGKILL)
    return {"killed": leader["name"], "pid": pid, "url": leader["url"], "at": time.time()}


def require_state() -> dict[str, Any]:
    state = load_state()
    if state is None:
        raise ClusterError(
            f"クラスターは起動していません（{state_path()} がありません）。scripts/cluster up を実行してください"
        )
    return state


def status() -> dict[str, Any]:
    state = require_state()
    return {
        "members": members(state),
        "nodes": node_health(state),
        "api": summary(state)["api"],
        "processes": {name: same_process(entry) for name, entry in state["processes"].items()},
    }


def down(quiet: bool = False, keep_logs: bool = False) -> dict[str, Any]:
    """Stop, in order, what the state says we started, then remove the data (idempotent)."""
    state = load_state()
    directory = cluster_dir()
    stopped: list[str] = []
    if state is not None:
        order = [n for n in state["processes"] if n.startswith("node")] + ["haproxy", "pgbouncer"]
        order += [n for n in state["processes"] if n.startswith("patroni-")] + ["etcd"]
        for name in order:
            entry = state["processes"].get(name)
            if entry is None:
                continue
            if same_process(entry):
                stop(entry)
                stopped.append(name)
        # Patroni stops its PostgreSQL on SIGTERM; a postmaster left behind (Patroni killed hard) goes too.
        root = Path(state["members_root"]) if state.get("members_root") else None
        if root is not None and root.exists():
            for i in range(MEMBERS):
                data_dir = root / f"pg{i + 1}" / "data"
                pid = postmaster_pid(data_dir)
                if pid is not None and is_postmaster_of(pid, data_dir):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    stopped.append(f"postgres-pg{i + 1}")
            time.sleep(0.5)
            if root != directory / "members":
                shutil.rmtree(root, ignore_errors=True)
    if directory.exists():
        if keep_logs:
            for child in directory.iterdir():
                if child.name != "logs":
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if not quiet:
        say(f"停止しました: {', '.join(stopped) or '（動いているものはありません）'}")
    return {"stopped": stopped, "removed": str(directory)}


# --- output ----------------------------------------------------------------------------------------


def show_members(rows: list[dict[str, Any]]) -> None:
    for m in rows:
        lag = "" if m["lag"] in (None, "") else f" lag={m['lag']}"
        print(f"  {m['name']:4} {m['role']:13} {m['state']:12} {m['url']}{lag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the cluster")
    up_parser.add_argument("--nodes", type=int, default=2, help="pmh nodes behind the front HAProxy (default 2)")
    up_parser.add_argument("--pgbouncer", action="store_true", help="also start PgBouncer in front of the rw port")
    up_parser.add_argument("--json", action="store_true")
    for name in ("status", "env", "kill-primary", "down"):
        commands.add_parser(name).add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            if not 1 <= args.nodes <= 16:
                raise ClusterError("--nodes は 1〜16 にしてください")
            result = up(args.nodes, args.pgbouncer)
            if not args.json:
                say(
                    f"起動しました: API {result['api']}（ノード {len(result['nodes'])}）、"
                    f"rw {result['rw']}、ro {result['ro']}"
                )
            print(json.dumps(result, ensure_ascii=False))
        elif args.command == "status":
            result = status()
            if args.json:
                print(json.dumps(result, ensure_ascii=False))
            else:
                print("members:")
                show_members(result["members"])
                print("nodes:")
                for node in result["nodes"]:
                    print(f"  {node['url']} {'healthy' if node['healthy'] else 'DOWN'}")
        elif args.command == "env":
            env = pmh_env(require_state())
            if args.json:
                print(json.dumps(env))
            else:
                for key, value in env.items():
                    print(f"export {key}='{value}'")
        elif args.command == "kill-primary":
            result = kill_primary()
            if args.json:
                print(json.dumps(result))
            else:
                print(f"killed the primary {result['killed']} (postmaster pid {result['pid']}, {result['url']})")
        else:
            result = down()
            if args.json:
                print(json.dumps(result))
    except ClusterError as error:
        print(f"scripts/cluster {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
