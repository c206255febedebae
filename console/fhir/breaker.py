"""A small, thread-safe circuit breaker shared by the upstream clients.

Usage::

    breaker = CircuitBreaker(failure_threshold=5, reset_after_s=30)
    if not breaker.allow():
        raise SomethingUnavailable(...)      # fail fast, no network call
    try:
        response = do_call()
    except ConnectionProblem:
        breaker.record_failure()
        raise
    breaker.record_success()

States:

* ``closed``: calls go through. ``failure_threshold`` consecutive failures open the breaker.
* ``open``: ``allow()`` is False until ``reset_after_s`` have passed since it opened.
* ``half_open``: one trial call is let through. Its success closes the breaker; its failure
  opens it again for another ``reset_after_s``. If the trial never reports back, another
  trial is allowed after ``reset_after_s``.

Only failures that say "the upstream is unwell" (cannot connect, timed out, 5xx) should be
recorded as failures; a 404 or a rejected request is a healthy server answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Fail fast after repeated upstream failures, then probe for recovery."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s < 0:
            raise ValueError("reset_after_s must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an open breaker past its wait reads half_open)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_after_s:
                return HALF_OPEN
            return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures recorded since the last success."""
        with self._lock:
            return self._failures

    def seconds_until_retry(self) -> float:
        """How long an open breaker keeps refusing calls (0 when calls are allowed)."""
        with self._lock:
            if self._state != OPEN:
                return 0.0
            return max(0.0, self.reset_after_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """True if a call may go to the upstream now."""
        with self._lock:
            now = self._clock()
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if now - self._opened_at < self.reset_after_s:
                    return False
                self._state = HALF_OPEN
                self._trial_started_at = now
                return True
            # Half open: one trial at a time; a trial that never reported back expires.
            if self._trial_started_at is None or now - self._trial_started_at >= self.reset_after_s:
                self._trial_started_at = now
                return True
            return False

    def record_success(self) -> None:
        """The upstream answered: close the breaker and forget earlier failures."""
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._trial_started_at = None

    def record_failure(self) -> None:
        """The upstream failed: count it, and open the breaker at the threshold or after a failed trial."""
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = OPEN
                self._opened_at = self._clock()
                self._trial_started_at = None

    def reset(self) -> None:
        """Close the breaker (for example after an operator changed the upstream's address)."""
        self.record_success()

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failures={self.consecutive_failures})"
