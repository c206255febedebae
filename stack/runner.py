"""Start any ``ServerSpec`` as a child process, wait until it answers, stop it afterwards.

Each server logs to ``.stack/logs/<name>.log``, runs in a process group of its own (so stopping
it stops whatever it started) and is stopped when the ``Servers`` block ends, on Ctrl-C or on
SIGTERM: nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import requests

from stack.spec import STATE_DIR, ServerSpec

LOG_DIR = STATE_DIR / "logs"
STOP_GRACE_SECONDS = 30.0


class ServerFailed(RuntimeError):
    """A server exited or did not become ready in time; the message ends with its log."""


def log_path(name: str) -> Path:
    """The log file of server ``name``."""
    return LOG_DIR / f"{name}.log"


def log_tail(name: str, lines: int = 30) -> str:
    """The last ``lines`` lines of server ``name``'s log."""
    path = log_path(name)
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Running:
    """A started server process."""

    spec: ServerSpec
    process: subprocess.Popen[bytes]
    started_at: float

    def alive(self) -> bool:
        return self.process.poll() is None


def launch(spec: ServerSpec) -> Running:
    """Start ``spec``'s command in the background, its output going to its log file."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with log_path(spec.name).open("wb") as log:
        process = subprocess.Popen(
            spec.command,
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Running(spec, process, time.monotonic())


def is_ready(spec: ServerSpec) -> bool:
    """True when the server's readiness URL answers 200."""
    try:
        response = requests.get(
            spec.ready_url,
            auth=spec.ready_auth,
            headers={"Accept": "application/json"},
            timeout=5,
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def wait_ready(running: Running, poll_seconds: float = 1.0) -> float:
    """Wait until ``running`` is ready; returns the seconds it took since launch.

    Raises ``ServerFailed`` when the process exits first or the spec's timeout passes."""
    spec = running.spec
    deadline = running.started_at + spec.ready_timeout_seconds
    while not is_ready(spec):
        if not running.alive():
            raise ServerFailed(
                f"{spec.name} exited with status {running.process.returncode} before it was "
                f"ready; {log_path(spec.name)} ends:\n{log_tail(spec.name)}"
            )
        if time.monotonic() > deadline:
            raise ServerFailed(
                f"{spec.name} was not ready at {spec.ready_url} within "
                f"{spec.ready_timeout_seconds:.0f} s; {log_path(spec.name)} ends:\n"
                f"{log_tail(spec.name)}"
            )
        time.sleep(poll_seconds)
    return time.monotonic() - running.started_at


def stop(running: Running) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after a grace period."""
    if not running.alive():
        return
    group = running.process.pid
    try:
        os.killpg(group, signal.SIGTERM)
        running.process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        running.process.wait(timeout=STOP_GRACE_SECONDS)
    except ProcessLookupError:
        pass


class Servers:
    """``with Servers(specs) as servers:`` starts them all at once and stops them all on exit.

    In the main thread SIGTERM is turned into ``KeyboardInterrupt`` inside the block, so a
    terminated run stops its servers as Ctrl-C does."""

    def __init__(self, specs: Iterable[ServerSpec]) -> None:
        self.specs = list(specs)
        self.running: list[Running] = []
        self._previous_handler: object = None

    def __enter__(self) -> Servers:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, raise_interrupt)
        try:
            for spec in self.specs:
                self.running.append(launch(spec))
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> dict[str, float]:
        """Wait for every server; returns each one's start-up time in seconds."""
        return {running.spec.name: wait_ready(running) for running in self.running}

    def stop(self) -> None:
        """Stop every server, the last started first."""
        for running in reversed(self.running):
            stop(running)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)  # type: ignore[arg-type]


def raise_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler that unwinds like Ctrl-C, so ``finally`` blocks stop the servers."""
    raise KeyboardInterrupt
