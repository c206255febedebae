"""A real HTTP server on loopback for an emulator's WSGI app, with fault injection.

Every emulator is a plain WSGI callable. ``EmulatorServer`` serves it from a thread with
Werkzeug's threaded server and wraps it in ``FaultInjector`` so tests can make the upstream
slow, failing, malformed, hanging or unreachable, exactly as a real server can be.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CONTROL_PATH = "/_emulator/faults"


@dataclass
class Faults:
    """The faults in force. All off by default."""

    latency_ms: int = 0
    status: int | None = None
    body: str | None = None
    content_type: str = "application/json"
    malformed: bool = False
    hang: bool = False
    only_paths: tuple[str, ...] = field(default_factory=tuple)
    #: Answer 200 with a body sent one byte at a time, a byte every few milliseconds, for as
    #: long as ``trickle_bytes`` lasts (or until the faults are cleared): never slow enough to
    #: trip a read timeout.
    trickle: bool = False
    trickle_bytes: int = 4000
    #: Answer 200 with a valid JSON body of about this many bytes (a huge Patient resource).
    huge_bytes: int = 0
    #: Send the huge body without ``Content-Length`` (chunked), so only counting can catch it.
    chunked: bool = False
    #: Send this exact body (with ``status``, default 200), e.g. bytes that are not UTF-8.
    body_bytes: bytes | None = None
    #: Send ``Retry-After`` (seconds) with the ``status`` answer.
    retry_after: int | None = None

    def matches(self, path: str) -> bool:
        """True when the faults apply to this request path."""
        return not self.only_paths or any(path.startswith(p) for p in self.only_paths)


class FaultInjector:
    """WSGI middleware applying the current ``Faults`` before (or instead of) the real app."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._faults = Faults()
        self._release = threading.Event()
        self.requests: list[tuple[str, str]] = []

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, **kwargs: Any) -> None:
        """Replace the faults in force, e.g. ``set(status=503)`` or ``set(latency_ms=20)``."""
        if "only_paths" in kwargs:
            kwargs["only_paths"] = tuple(kwargs["only_paths"])
        with self._lock:
            self._faults = Faults(**kwargs)
            self._release.clear()

    def clear(self) -> None:
        """Switch every fault off and release hanging requests."""
        with self._lock:
            self._faults = Faults()
        self._release.set()

    def reset_counts(self) -> None:
        """Forget the request log (used to count upstream calls per page)."""
        with self._lock:
            self.requests.clear()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return self._control(environ, start_response)
        with self._lock:
            self.requests.append((environ["REQUEST_METHOD"], path))
            faults = self._faults
        if not faults.matches(path):
            return self.app(environ, start_response)
        if faults.hang:
            self._release.wait(timeout=120)
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if faults.trickle:
            return self._trickle(faults, start_response)
        if faults.huge_bytes:
            return self._huge(faults, start_response)
        if faults.body_bytes is not None:
            start_response(
                f"{faults.status or 200} Injected",
                [
                    ("Content-Type", faults.content_type),
                    ("Content-Length", str(len(faults.body_bytes))),
                ],
            )
            return [faults.body_bytes]
        if faults.status is not None:
            body = (
                faults.body or json.dumps({"error": "injected", "status": faults.status})
            ).encode()
            headers = [("Content-Type", faults.content_type), ("Content-Length", str(len(body)))]
            if faults.retry_after is not None:
                headers.append(("Retry-After", str(faults.retry_after)))
            start_response(f"{faults.status} Injected", headers)
            return [body]
        if faults.malformed:
            body = b'{"resourceType": "Bundle", "entry": [ {"truncated'
            start_response(
                "200 OK",
                [("Content-Type", faults.content_type), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.app(environ, start_response)

    def _trickle(self, faults: Faults, start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Leading JSON whitespace, a byte at a time, then nothing readable."""
        start_response(
            "200 OK",
            [("Content-Type", faults.content_type), ("Content-Length", str(faults.trickle_bytes))],
        )
        release = self._release

        def drip() -> Iterator[bytes]:
            for _ in range(faults.trickle_bytes):
                if release.wait(0.01):  # cleared: stop at once
                    return
                yield b" "

        return drip()

    def _huge(self, faults: Faults, start_response: Callable[..., Any]) -> Iterable[bytes]:
        """A valid Patient resource of about ``huge_bytes`` bytes, in 64 KB pieces."""
        head = b'{"resourceType": "Patient", "id": "1000", "text": {"div": "'
        tail = b'"}}'
        filler = max(0, faults.huge_bytes - len(head) - len(tail))
        headers = [("Content-Type", faults.content_type)]
        if not faults.chunked:
            headers.append(("Content-Length", str(len(head) + filler + len(tail))))
        start_response("200 OK", headers)

        def pieces() -> Iterator[bytes]:
            yield head
            left = filler
            while left > 0:
                size = min(left, 65536)
                left -= size
                yield b"x" * size
            yield tail

        return pieces()

    def _control(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """GET shows the faults; POST a JSON object sets them; DELETE clears them."""
        method = environ["REQUEST_METHOD"]
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                self.set(**json.loads(environ["wsgi.input"].read(length) or b"{}"))
            except (TypeError, ValueError) as exc:
                body = json.dumps({"error": str(exc)}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [body]
        elif method == "DELETE":
            self.clear()
        body = json.dumps(self.faults.__dict__, default=repr).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


class _QuietRequestHandler(WSGIRequestHandler):
    """Serve without a log line per request (the sandbox's loaders make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class EmulatorServer:
    """Serve a WSGI app on 127.0.0.1 from a background thread.

    ``refuse_connections()`` closes the listening socket so clients get "connection refused";
    ``accept_connections()`` listens again on the same port.
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.injector = FaultInjector(app)
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:43123``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Start listening and return the root URL."""
        self._server = make_server(
            self.host,
            self.port,
            self.injector,
            threaded=True,
            request_handler=_QuietRequestHandler,
        )
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.injector.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refuse_connections(self) -> None:
        """Simulate an outage: nothing listens on the port any more."""
        self.stop()

    def accept_connections(self) -> None:
        """End a simulated outage: listen again on the same port."""
        if self._server is None:
            self.start()

    def set_faults(self, **kwargs: Any) -> None:
        """Shortcut for ``injector.set``."""
        self.injector.set(**kwargs)

    def clear_faults(self) -> None:
        """Shortcut for ``injector.clear``."""
        self.injector.clear()

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
