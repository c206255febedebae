"""``python -m stack``: the project's own servers, as the Makefile uses them.

python -m stack postgres start|stop|dsn   the PostgreSQL cluster alone
python -m stack test [PYTEST ARGS]        the test suite on that cluster; with CI=true or
                                          STACK_LIVE=1 the live servers start alongside it
python -m stack up                        every server of SERVERS, until Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from stack import platform, postgres, runner
from stack.ehrbase import BuildFailed
from stack.spec import STATE_DIR

LIVE_FAILURE_FILE = STATE_DIR / "logs" / "live-failure.txt"
"""Why the live servers could not be started; the live tests fail (or skip) with it."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _start_postgres() -> str | None:
    try:
        return postgres.start()
    except postgres.PostgresUnavailable as exc:
        print(f"stack: PostgreSQL not started: {exc}", file=sys.stderr)
        return None


class LiveServers(threading.Thread):
    """Builds and starts the live servers in the background while the test suite runs."""

    def __init__(self) -> None:
        super().__init__(name="live-servers", daemon=True)
        self.servers: runner.Servers | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            specs = platform.specs()
            with self.lock:
                if self.stopping.is_set():
                    return
                self.servers = runner.Servers(specs)
                self.servers.__enter__()
            started = time.monotonic()
            times = self.servers.wait_ready()
            print(
                "\nstack: live servers ready: "
                + ", ".join(f"{name} after {seconds:.0f} s" for name, seconds in times.items())
                + f" (waited {time.monotonic() - started:.0f} s)",
                file=sys.stderr,
            )
        except (BuildFailed, platform.LauncherMissing, runner.ServerFailed, OSError) as exc:
            if not self.stopping.is_set():
                LIVE_FAILURE_FILE.parent.mkdir(parents=True, exist_ok=True)
                LIVE_FAILURE_FILE.write_text(str(exc))
                print(f"\nstack: live servers not started: {exc}", file=sys.stderr)

    def stop(self) -> None:
        with self.lock:
            self.stopping.set()
            if self.servers is not None:
                self.servers.stop()


def run_tests(pytest_args: list[str]) -> int:
    """Start PostgreSQL (and the live servers when asked), run pytest, stop what was started."""
    dsn = _start_postgres()
    env = dict(os.environ)
    if dsn:
        env["TEST_PG_DSN"] = dsn
    live = None
    LIVE_FAILURE_FILE.unlink(missing_ok=True)
    signal.signal(signal.SIGTERM, runner.raise_interrupt)
    if dsn and (_in_ci() or os.environ.get("STACK_LIVE") == "1"):
        env.update(platform.live_environment())
        env["LIVE_FAILURE_FILE"] = str(LIVE_FAILURE_FILE)
        live = LiveServers()
        live.start()
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        if live is not None:
            live.stop()
        if dsn:
            postgres.stop()


def up() -> int:
    """Start every server of ``SERVERS`` and keep them up until Ctrl-C."""
    dsn = postgres.start()
    print(f"postgres: {dsn}")
    try:
        with runner.Servers(platform.specs()) as servers:
            for name, seconds in servers.wait_ready().items():
                print(f"{name}: ready after {seconds:.0f} s (log {runner.log_path(name)})")
            for name, value in platform.live_environment().items():
                if "PASSWORD" not in name:
                    print(f"{name}={value}")
            print("Press Ctrl-C to stop.")
            while all(running.alive() for running in servers.running):
                time.sleep(1)
            print("stack: a server exited; stopping the others", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    finally:
        postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stack", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pg = commands.add_parser("postgres", help="the project's PostgreSQL cluster")
    pg.add_argument("action", choices=("start", "stop", "dsn"))
    test = commands.add_parser("test", help="run pytest on the project's servers")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    commands.add_parser("up", help="start every server until Ctrl-C")
    commands.add_parser("serve", help="make stack: the servers, seeded, and the console")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["test"]:
        # Everything after "test" is pytest's, options included.
        return run_tests(argv[1:])
    if argv[:1] == ["serve"]:
        from stack import sandbox

        return sandbox.main(argv[1:])
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up()
        if args.action == "start":
            print(postgres.start())
        elif args.action == "stop":
            postgres.stop()
        else:
            print(postgres.dsn())
    except (postgres.PostgresUnavailable, BuildFailed, runner.ServerFailed) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
