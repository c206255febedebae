"""The project's own PostgreSQL cluster: data under ``.stack/``, its own loopback port.

The three service databases are made by the same init scripts ``compose.dev.yml`` mounts into
its database containers (``docker/postgres/initdb``), fed the ``.env`` names and this checkout's
passwords (``stack.platform``). The superuser is reached over loopback without a password
(trust, as the shared development server did) so the test fixtures can make throw-away
databases; every other role signs in with its password. When run as root the cluster belongs
to the ``postgres`` OS user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from stack.platform import settings
from stack.spec import ROOT, STATE_DIR, port

SUPERUSER = "postgres"
OS_USER = "postgres"
"""The OS account that owns the cluster when this runs as root."""
INITDB_DIR = ROOT / "docker" / "postgres" / "initdb"
SQL_DIR = ROOT / "docker" / "postgres" / "sql"
INITIALISED = "quill-initialised"
"""Marker in the data directory: the init scripts have run to the end."""
START_TIMEOUT_SECONDS = 120

HBA = """\
# The project's development and test cluster: loopback only.
host    all       {superuser}   127.0.0.1/32  trust
host    all       all           127.0.0.1/32  scram-sha-256
"""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and what to install."""


def dsn(database: str = "postgres") -> str:
    """The superuser's libpq URL for ``database`` on the project cluster."""
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port('postgres')}/{database}"


def bin_dir() -> Path:
    """The folder of ``initdb``/``pg_ctl``: ``PG_BINDIR``, Debian's newest, or the PATH."""
    configured = os.environ.get("PG_BINDIR")
    candidates = [Path(configured)] if configured else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed; "
        "install Debian's 'postgresql' package (make test does so when run as root)"
    )


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _reachable_by(user: str, path: Path) -> bool:
    """True when OS ``user`` can walk down to ``path`` (every parent searchable)."""
    result = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(path)], capture_output=True, check=False
    )
    return result.returncode == 0


def cluster_dir() -> Path:
    """Where the cluster lives: ``.stack/postgres``, or, when root and the ``postgres`` user
    cannot reach the checkout, a folder of its own under ``/var/tmp`` named after it."""
    home = STATE_DIR / "postgres"
    if not _running_as_root():
        return home
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    if _reachable_by(OS_USER, STATE_DIR):
        return home
    digest = hashlib.sha256(str(STATE_DIR).encode()).hexdigest()[:12]
    # A fixed, checkout-specific name owned by root: not a guessable shared temporary file.
    return Path("/var/tmp") / f"quill-stack-{digest}" / "postgres"  # noqa: S108


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *command] if _running_as_root() else command


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise PostgresUnavailable(f"{what} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def _prepare(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if _running_as_root():
        try:
            owner = pwd.getpwnam(OS_USER)
        except KeyError as exc:
            raise PostgresUnavailable(
                f"the '{OS_USER}' OS user is missing (Debian's postgresql package makes it)"
            ) from exc
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    folder.chmod(0o700)


def _initdb(bindir: Path, data: Path) -> None:
    _prepare(data.parent)
    _run(
        _as_owner(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
            ]
        ),
        "initdb",
    )
    hba = data / "pg_hba.conf"
    hba.write_text(HBA.format(superuser=SUPERUSER))
    if _running_as_root():
        owner = pwd.getpwnam(OS_USER)
        os.chown(hba, owner.pw_uid, owner.pw_gid)


def _status(bindir: Path, data: Path) -> bool:
    """True when the cluster's postmaster is alive (a killed one may linger as a zombie where
    nothing reaps it, which ``pg_ctl status`` still counts as running)."""
    result = subprocess.run(
        _as_owner([str(bindir / "pg_ctl"), "status", "--pgdata", str(data)]),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return False
    pid_file = data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        state = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError, IndexError):
        return True
    return "\nState:\tZ" not in state


def _log_tail(log: Path, lines: int = 20) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _start_server(bindir: Path, data: Path, log: Path) -> None:
    stale = data / "postmaster.pid"
    if stale.exists():
        # pg_ctl status said no postmaster runs: the file is left from a killed run.
        stale.unlink()
    options = (
        f"-c port={port('postgres')} -c listen_addresses=127.0.0.1 "
        "-c unix_socket_directories='' -c max_connections=200 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    command = [
        str(bindir / "pg_ctl"),
        "start",
        "--pgdata",
        str(data),
        "--log",
        str(log),
        "--wait",
        "--timeout",
        str(START_TIMEOUT_SECONDS),
        "--options",
        options,
    ]
    result = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"PostgreSQL did not start on 127.0.0.1:{port('postgres')}: "
            f"{result.stderr.strip()}\n{_log_tail(log)}"
        )


def _run_init_scripts(data: Path) -> None:
    """Create the three service databases with compose's own init scripts."""
    values = settings()
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "POSTGRES_USER": SUPERUSER,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(port("postgres")),
        "QUILL_SQL_DIR": str(SQL_DIR),
    }
    runs = (
        ("10-app-db.sh", "AUTH_DB"),
        ("10-app-db.sh", "FHIR_DB"),
    )
    for script, prefix in runs:
        env = {
            **base,
            "APP_DB_NAME": values[f"{prefix}_NAME"],
            "APP_DB_USER": values[f"{prefix}_USER"],
            "APP_DB_PASSWORD": values[f"{prefix}_PASSWORD"],
        }
        _run(["sh", str(INITDB_DIR / script)], f"{script} for {env['APP_DB_NAME']}", env)
    ehrbase = {name: value for name, value in values.items() if name.startswith("EHRBASE_DB_")}
    _run(["sh", str(INITDB_DIR / "10-ehrbase-db.sh")], "10-ehrbase-db.sh", {**base, **ehrbase})
    (data / INITIALISED).write_text("docker/postgres/initdb scripts ran\n")


def start() -> str:
    """Start (or reuse) the project cluster, initialising it on first use; returns its DSN."""
    bindir = bin_dir()
    folder = cluster_dir()
    data, log = folder / "data", folder / "postgres.log"
    if (data / "PG_VERSION").exists() and not (data / INITIALISED).exists():
        # A first start that stopped half-way: start again from an empty cluster.
        stop()
        shutil.rmtree(data)
    if not (data / "PG_VERSION").exists():
        _initdb(bindir, data)
    if not _status(bindir, data):
        _start_server(bindir, data, log)
    if not (data / INITIALISED).exists():
        _run_init_scripts(data)
    return dsn()


def stop() -> None:
    """Stop the project cluster if it runs (fast shutdown: open sessions are ended)."""
    data = cluster_dir() / "data"
    if not (data / "PG_VERSION").exists():
        return
    bindir = bin_dir()
    if _status(bindir, data):
        _run(
            _as_owner([str(bindir / "pg_ctl"), "stop", "--pgdata", str(data), "--mode", "fast"]),
            "pg_ctl stop",
        )
