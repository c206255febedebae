"""Per-address rate limits on the sign-in and two-factor forms, with the console's 429 page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from console.extensions import limiter
from tests.support.auth import TOTP_SECRET
from tests.support.users import csrf_token, make_user


def test_too_many_sign_in_attempts_from_one_address_get_the_429_page(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute")
    make_user(app, "alice")
    make_user(app, "tess", totp_secret=TOTP_SECRET, totp_enabled=True)
    client = app.test_client()
    token = csrf_token(client)
    form = {"csrf_token": token, "username": "alice", "password": "wrong wrong wrong"}
    assert [client.post("/auth/login", data=form).status_code for _ in range(3)] == [400] * 3

    response = client.post("/auth/login", data=form)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many attempts" in page and "Quill Console" in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "Retry-After" in response.headers
    assert client.get("/auth/login").status_code == 200  # reading the form is not limited

    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    token = csrf_token(elsewhere)
    response = elsewhere.post(
        "/auth/login", data={**form, "csrf_token": token, "username": "tess",
                             "password": "correct horse battery staple 42"}
    )  # fmt: skip
    assert response.status_code == 302  # another address has its own allowance

    codes = [
        elsewhere.post(
            "/auth/login/code", data={"csrf_token": csrf_token(elsewhere, "/auth/login/code"),
                                      "code": "000000"}
        ).status_code
        for _ in range(3)
    ]  # fmt: skip
    assert codes == [400, 400, 429]


def test_the_counters_can_live_in_redis_to_be_shared_between_instances(
    app_factory: Callable[..., Flask],
) -> None:
    # Nothing listens on this port: the console must still start, using Redis storage (the
    # client connects on the first counted request), so several instances can share limits.
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6399/0")
    with app.app_context():
        assert type(limiter.storage).__name__ == "RedisStorage"
    assert app.test_client().get("/auth/login").status_code == 200


def test_the_default_storage_is_in_memory(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    with app.app_context():
        assert type(limiter.storage).__name__ == "MemoryStorage"


def test_unreachable_shared_storage_falls_back_to_counting_in_memory(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6399/0",  # nothing listens here
        AUTH_RATE_LIMIT="2 per minute",
        PROPAGATE_EXCEPTIONS=False,
    )
    make_user(app, "alice")
    client = app.test_client()
    form = {"csrf_token": csrf_token(client), "username": "alice", "password": "wrong wrong"}
    statuses = [client.post("/auth/login", data=form).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]  # the form still answers, and the limit still holds
