"""The circuit breaker: opens after repeated failures, probes once, recovers."""

from __future__ import annotations

import pytest

from console.fhir.breaker import CircuitBreaker


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_stays_closed_below_the_threshold(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_a_success_resets_the_failure_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_opens_at_the_threshold_and_refuses_calls(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.seconds_until_retry() == 30
    clock.now += 29
    assert not breaker.allow()


def test_lets_one_trial_through_after_the_wait_and_closes_on_success(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 30
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow(), "only one trial call at a time"
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_a_failed_trial_opens_the_breaker_again(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 31
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 30
    assert breaker.allow()


def test_a_trial_that_never_reports_back_expires(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_after_s=-1)
