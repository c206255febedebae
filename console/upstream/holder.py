"""One upstream client per app, shared by every request and rebuilt when its settings change.

The FHIR and EHRbase pages each keep their client here: one pooled session and one circuit
breaker per app. When the URL or timeouts change (the settings page), the client is rebuilt
and the breaker carries over, so a rebuild does not forget that the server is down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from flask import Flask

from console.fhir.breaker import CircuitBreaker


class Closable(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=Closable)


class ClientHolder(Generic[ClientT]):
    """The current client of one upstream service, and the breaker that outlives it."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        self._lock = threading.Lock()
        self._client: ClientT | None = None
        self._key: Hashable | None = None

    def get(self, key: Hashable, build: Callable[[CircuitBreaker], ClientT]) -> ClientT:
        """The client for ``key`` (e.g. URL and timeouts), built with the breaker if new."""
        with self._lock:
            if self._client is None or self._key != key:
                if self._client is not None:
                    self._client.close()
                self._client = build(self.breaker)
                self._key = key
            return self._client


def holder_for(app: Flask, name: str, prefix: str) -> ClientHolder[ClientT]:
    """The app's holder called ``name``; its breaker reads ``{prefix}_BREAKER_THRESHOLD`` (5)
    and ``{prefix}_BREAKER_RESET_S`` (30) from the Flask config."""
    holder = app.extensions.get(name)
    if holder is None:
        holder = app.extensions[name] = ClientHolder(
            CircuitBreaker(
                failure_threshold=int(app.config.get(f"{prefix}_BREAKER_THRESHOLD", 5)),
                reset_after_s=float(app.config.get(f"{prefix}_BREAKER_RESET_S", 30.0)),
            )
        )
    return holder
