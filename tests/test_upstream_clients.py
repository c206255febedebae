"""The per-app upstream client: shared, rebuilt when its settings change, breaker kept."""

from __future__ import annotations

from console.fhir.breaker import CircuitBreaker
from console.upstream.holder import ClientHolder


class FakeClient:
    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_same_settings_share_one_client() -> None:
    holder: ClientHolder[FakeClient] = ClientHolder(CircuitBreaker())
    first = holder.get(("http://fhir", 3.0, 10.0), FakeClient)
    assert holder.get(("http://fhir", 3.0, 10.0), FakeClient) is first
    assert not first.closed


def test_changed_settings_close_the_old_client_and_keep_the_breaker() -> None:
    breaker = CircuitBreaker()
    holder: ClientHolder[FakeClient] = ClientHolder(breaker)
    first = holder.get(("http://fhir", 3.0, 10.0), FakeClient)
    second = holder.get(("http://fhir", 3.0, 2.0), FakeClient)
    assert second is not first and first.closed and not second.closed
    assert second.breaker is first.breaker is breaker
