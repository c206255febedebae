"""One HTTP transport for every upstream client (HAPI FHIR, EHRbase).

A pooled ``requests.Session``; urllib3 ``Retry`` with backoff for idempotent requests only;
explicit connect and read timeouts; a circuit breaker; and two bounds on every call:

* an overall **deadline**: connect, every read of the headers and the body, retries, backoff
  and ``Retry-After`` waits all count against it. A ``Retry-After`` longer than what is left is
  not waited for (the answer that asked for it is returned as it is). The body is read with one
  ``recv`` at a time and the socket's timeout shrinks to what is left, so a server trickling one
  byte a second cannot hold a worker past the deadline;
* a **size cap**: the body is streamed and the call fails with the client's "too large" error
  as soon as it passes the cap (or at once, when ``Content-Length`` says it will).

Failures become the client's own typed errors (``ErrorKinds``), and ``parse_json`` turns any
JSON the console cannot read (invalid, invalid UTF-8, nested too deeply) into its "malformed" error.
The transport knows nothing of Flask.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, MaxRetryError, ReadTimeoutError, ResponseError
from urllib3.util.retry import Retry

from console.upstream.errors import (
    UpstreamBreakerOpen,
    UpstreamError,
    UpstreamMalformed,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnreachable,
)

log = logging.getLogger(__name__)

CallHook = Callable[[str, str, "int | None", float], None]
_CHUNK = 64 * 1024
_deadline: ContextVar[float | None] = ContextVar("upstream_deadline", default=None)


class Breaker(Protocol):
    """The circuit breaker the transport needs (``console.fhir.breaker.CircuitBreaker``)."""

    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    """How long one call may take and how much it may read."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """Which calls are retried, how often and on which answers."""

    retries: int = 2
    backoff_factor: float = 0.25
    statuses: tuple[int, ...] = (502, 503, 504)
    methods: frozenset[str] = frozenset({"GET"})
    respect_retry_after: bool = True
    #: URL prefixes (after the base) whose extra methods may be retried too (read-only POSTs).
    also: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorKinds:
    """The client's own error classes for what the transport itself can detect."""

    unreachable: type[UpstreamUnreachable]
    timeout: type[UpstreamTimeout]
    breaker_open: type[UpstreamBreakerOpen]
    malformed: type[UpstreamMalformed]
    too_large: type[UpstreamTooLarge]


def remaining_s() -> float | None:
    """Seconds left of the current call's deadline (None outside a call)."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


class DeadlineRetry(Retry):
    """urllib3 ``Retry`` that keeps within the call's deadline.

    ``Retry-After`` is honoured up to ``MAX_RETRY_AFTER_S``, but never when it is longer than
    what is left of the deadline; backoff never sleeps past it; and a write (a method not in
    ``allowed_methods``) is never sent twice, whatever went wrong.
    """

    MAX_RETRY_AFTER_S = 5.0

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.MAX_RETRY_AFTER_S)

    def get_backoff_time(self) -> float:
        left = remaining_s()
        backoff = super().get_backoff_time()
        return backoff if left is None else max(0.0, min(backoff, left))

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> DeadlineRetry:
        if error is not None and method is not None and not self._is_method_retryable(method):
            raise MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]
        left = remaining_s()
        if left is not None:
            wait = 0.0
            if response is not None and self.respect_retry_after_header:
                wait = Retry.get_retry_after(self, response) or 0.0
            if left <= 0 or wait > left:
                reason = error or ResponseError("no time left within the call's deadline")
                raise MaxRetryError(_pool, url, reason) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)  # type: ignore[return-value]


def _is_timeout(exc: BaseException) -> bool:
    """True when a requests/urllib3 exception (possibly wrapped in MaxRetryError) is a timeout."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (requests.Timeout, TimeoutError)) or "Timeout" in type(item).__name__:
            return True
        stack.extend(item.args)
        stack.append(getattr(item, "reason", None))
        stack.append(item.__cause__)
        stack.append(item.__context__)
    return False


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; ``ValueError`` for invalid JSON, invalid UTF-8 or absurd nesting.

    Python's parser gives up on nesting deeper than the interpreter's recursion limit with a
    ``RecursionError``, which must never escape a client as anything but "malformed".
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


def excerpt(body: bytes, limit: int = 200) -> str:
    """The start of a body as text, for diagnostics."""
    return repr(body[:limit].decode("utf-8", "replace"))


class Transport:
    """Sends one call at a time per thread; thread-safe, one connection pool per transport."""

    def __init__(
        self,
        *,
        limits: Limits,
        retry: RetryPolicy,
        kinds: ErrorKinds,
        breaker: Breaker,
        base_url: str = "",
        request_id: Callable[[], str | None] | None = None,
        on_call: CallHook | None = None,
        pool_size: int = 10,
        session: requests.Session | None = None,
        service: str = "upstream",
    ) -> None:
        self.limits = limits
        self.kinds = kinds
        self.breaker = breaker
        self.service = service
        self._request_id = request_id
        self._on_call = on_call
        self.session = session or requests.Session()
        policy = DeadlineRetry(
            total=retry.retries,
            connect=retry.retries,
            read=0,
            status=retry.retries,
            other=0,
            backoff_factor=retry.backoff_factor,
            status_forcelist=retry.statuses,
            allowed_methods=retry.methods,
            respect_retry_after_header=retry.respect_retry_after,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=policy)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        for prefix, methods in retry.also.items():  # the longest mounted prefix wins
            self.session.mount(
                base_url.rstrip("/") + prefix,
                HTTPAdapter(
                    pool_connections=1,
                    pool_maxsize=pool_size,
                    max_retries=policy.new(allowed_methods=retry.methods | methods),
                ),
            )

    @property
    def timeout(self) -> tuple[float, float]:
        """The connect and read timeouts."""
        return (self.limits.connect_timeout, self.limits.read_timeout)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        data: bytes | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
    ) -> requests.Response:
        """Send one call and read its whole body within the limits; any status is returned.

        Raises the client's ``breaker_open``, ``unreachable``, ``timeout`` or ``too_large``.
        Breaker: a failure for those and for 5xx answers, a success for any other answer.
        """
        if not self.breaker.allow():
            raise self.kinds.breaker_open(
                diagnostics=f"{method} {url} was not sent: recent calls failed.",
                method=method,
                url=url,
            )
        send_headers = dict(headers or {})
        request_id = self._request_id() if self._request_id else None
        if request_id:
            send_headers["X-Request-ID"] = request_id
        started = time.monotonic()
        end = started + self.limits.deadline
        token = _deadline.set(end)
        status: int | None = None
        try:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json_body,
                    headers=send_headers,
                    auth=auth,
                    timeout=self._timeouts(end),
                    allow_redirects=False,
                    stream=True,
                )
                status = response.status_code
                self._read_body(response, end, method)
            except requests.RequestException as exc:
                self.breaker.record_failure()
                raise self._failure(exc, method, url, end) from None
            except UpstreamError:
                self.breaker.record_failure()
                raise
        finally:
            _deadline.reset(token)
            self._report(method, url, status, time.monotonic() - started)
        if status is not None and status >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return response

    def json(self, response: requests.Response, *, what: str = "answer") -> Any:
        """The body as JSON, or the client's ``malformed`` error."""
        try:
            return parse_json(response.content)
        except ValueError as exc:
            raise self.kinds.malformed(
                diagnostics=f"Invalid JSON ({what}) from {response.url}: {exc}. "
                f"Body starts: {excerpt(response.content)}",
                status=response.status_code,
                method=response.request.method if response.request else None,
                url=response.url,
            ) from None

    # -- plumbing -------------------------------------------------------------------------

    def _timeouts(self, end: float) -> tuple[float, float]:
        left = max(0.001, end - time.monotonic())
        return (min(self.limits.connect_timeout, left), min(self.limits.read_timeout, left))

    def _read_body(self, response: requests.Response, end: float, method: str) -> None:
        """Read the body one ``recv`` at a time, within the deadline and the size cap."""
        cap = self.limits.max_bytes
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > cap:
            response.close()
            raise self._too_large(response, method, f"Content-Length {int(length)}")
        chunks: list[bytes] = []
        size = 0
        raw = response.raw
        while True:
            left = end - time.monotonic()
            if left <= 0:
                response.close()
                raise requests.Timeout(
                    f"the body was still arriving after {self.limits.deadline:g} s ({size} bytes)"
                )
            self._shrink_socket_timeout(raw, left)
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except ReadTimeoutError as exc:
                response.close()
                raise requests.Timeout(str(exc)) from exc
            except (HTTPError, OSError) as exc:
                response.close()
                raise requests.ConnectionError(f"{type(exc).__name__}: {exc}") from exc
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                response.close()
                raise self._too_large(response, method, f"more than {size} bytes")
            chunks.append(chunk)
        response._content = b"".join(chunks)
        response._content_consumed = True
        raw.release_conn()

    def _shrink_socket_timeout(self, raw: Any, left: float) -> None:
        connection = getattr(raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(max(0.001, min(self.limits.read_timeout, left)))

    def _too_large(self, response: requests.Response, method: str, seen: str) -> UpstreamError:
        mib = self.limits.max_bytes / (1024 * 1024)
        return self.kinds.too_large(
            diagnostics=f"{method} {response.url}: the answer is larger than the "
            f"{mib:g} MB the console accepts ({seen}).",
            status=response.status_code,
            method=method,
            url=response.url,
        )

    def _failure(
        self, exc: requests.RequestException, method: str, url: str, end: float
    ) -> UpstreamError:
        detail = f"{method} {url}: {type(exc).__name__}: {exc}"
        if _is_timeout(exc) or time.monotonic() >= end:
            connect, read = self.timeout
            return self.kinds.timeout(
                diagnostics=f"No complete answer within {connect:g} s to connect / {read:g} s "
                f"to respond / {self.limits.deadline:g} s in all. {detail}",
                method=method,
                url=url,
            )
        return self.kinds.unreachable(diagnostics=detail, method=method, url=url)

    def _report(self, method: str, url: str, status: int | None, seconds: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(method, url.split("?", 1)[0], status, seconds)
        except Exception:  # a logging hook must never break a request
            log.exception("%s on_call hook failed", self.service)
