"""Who a single sign-on belongs to, their roles, and what administrators see and change."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import AuditEvent, User
from console.sso.accounts import DISABLED, UNKNOWN_PERSON
from console.sso.models import SsoIdentity
from tests.sso.fake_idp import FakeIdp
from tests.support.auth import post_form
from tests.support.sso import configure, link, sso_sign_in
from tests.support.users import DEFAULT_PASSWORD, make_user, sign_in


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def roles_of(app: Flask, username: str) -> list[str]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None
        return sorted(role.name for role in user.roles)


def signed_in_as(client: Any) -> str | None:
    page = client.get("/auth/account")
    if page.status_code != 200:
        return None
    return page.get_data(as_text=True)


def test_an_unknown_person_is_told_to_ask_an_administrator(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    client = sso_app.test_client()
    sso_sign_in(client, fake_idp)
    assert UNKNOWN_PERSON in client.get("/auth/login").get_data(as_text=True)
    assert signed_in_as(client) is None
    with sso_app.app_context():
        assert db.session.scalar(select(User).where(User.email == "alice@example.org")) is None
    assert events(sso_app, "sso.sign_in")[-1].details["reason"] == "no linked account"


def test_a_first_sign_in_creates_the_user_with_the_mapped_roles_when_allowed(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    configure(sso_app, create_unknown_users=True)
    client = sso_app.test_client()
    sso_sign_in(client, fake_idp)
    assert "alice.sso" in (signed_in_as(client) or "")
    assert roles_of(sso_app, "alice.sso") == ["Clinician"]
    added = events(sso_app, "sso.role_added")
    assert [(e.details["role"], e.details["claim"], e.details["claim_values"]) for e in added] == [
        ("Clinician", "groups", ["clinicians"])
    ]


def test_an_email_match_alone_does_not_link_an_account(sso_app: Flask, fake_idp: FakeIdp) -> None:
    make_user(sso_app, "alice", roles=("System administrator",))
    client = sso_app.test_client()
    sso_sign_in(client, fake_idp)
    assert signed_in_as(client) is None


def test_an_email_match_links_when_an_administrator_pre_approved_it(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    alice = make_user(sso_app, "alice", roles=())
    with sso_app.app_context():
        issuer = sso_app.config["SETTINGS"].OIDC_ISSUER
        db.session.add(SsoIdentity(user_id=alice, issuer=issuer))
        db.session.commit()
    client = sso_app.test_client()
    sso_sign_in(client, fake_idp)
    assert "alice" in (signed_in_as(client) or "")
    with sso_app.app_context():
        row = db.session.scalar(select(SsoIdentity).where(SsoIdentity.user_id == alice))
        assert row is not None and row.subject == "subject-1"
    assert events(sso_app, "sso.identity_linked")[0].details["how"] == "pre-approved e-mail match"


def test_mapped_roles_are_re_applied_and_hand_granted_roles_stay(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    alice = make_user(sso_app, "alice", roles=("Auditor",))
    link(sso_app, alice)
    sso_sign_in(sso_app.test_client(), fake_idp, groups=["clinicians", "auditors"])
    assert roles_of(sso_app, "alice") == ["Auditor", "Clinician"]

    sso_sign_in(sso_app.test_client(), fake_idp, groups=["someone-elses-group"])

    assert roles_of(sso_app, "alice") == ["Auditor"]
    removed = events(sso_app, "sso.role_removed")
    assert [(e.details["role"], e.details["claim"]) for e in removed] == [("Clinician", "groups")]


def test_a_nested_roles_claim_is_read_by_its_dotted_path(sso_app: Flask, fake_idp: FakeIdp) -> None:
    configure(sso_app, roles_claim="realm_access.roles", role_mapping="clinician = Clinician")
    alice = make_user(sso_app, "alice", roles=())
    link(sso_app, alice)
    sso_sign_in(sso_app.test_client(), fake_idp, realm_access={"roles": ["clinician"]})
    assert roles_of(sso_app, "alice") == ["Clinician"]


def test_a_disabled_user_cannot_sign_in_with_single_sign_on(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    alice = make_user(sso_app, "alice", active=False)
    link(sso_app, alice)
    client = sso_app.test_client()
    sso_sign_in(client, fake_idp)
    assert DISABLED in client.get("/auth/login").get_data(as_text=True)
    assert signed_in_as(client) is None


def test_a_linked_user_may_not_use_a_password_unless_the_setting_allows_it(
    sso_app: Flask,
) -> None:
    alice = make_user(sso_app, "alice")
    link(sso_app, alice)
    client = sso_app.test_client()
    assert sign_in(client, "alice", DEFAULT_PASSWORD).status_code == 400
    assert events(sso_app, "auth.sign_in")[-1].details["reason"] == "single sign-on only"

    configure(sso_app, allow_local_password=True)
    assert sign_in(client, "alice", DEFAULT_PASSWORD).status_code == 302


def test_the_console_two_factor_code_is_still_asked_unless_the_idp_mfa_counts(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    alice = make_user(sso_app, "alice", totp_enabled=True, totp_secret="JBSWY3DPEHPK3PXP")
    link(sso_app, alice)
    response = sso_sign_in(sso_app.test_client(), fake_idp, amr=["pwd", "mfa"])
    assert response.headers["Location"].endswith("/auth/login/code")

    configure(sso_app, idp_mfa_satisfies_two_factor=True)
    client = sso_app.test_client()
    response = sso_sign_in(client, fake_idp, amr=["pwd", "mfa"])
    assert not response.headers["Location"].endswith("/auth/login/code")
    assert signed_in_as(client) is not None
    response = sso_sign_in(sso_app.test_client(), fake_idp, amr=["pwd"])
    assert response.headers["Location"].endswith("/auth/login/code")


def test_an_administrator_links_and_unlinks_an_account(sso_app: Flask) -> None:
    make_user(sso_app, "admin", roles=("System administrator",))
    bob = make_user(sso_app, "bob")
    client = sso_app.test_client()
    sign_in(client, "admin")
    page = f"/admin/users/{bob}/sign-in"

    assert "Not linked" in client.get(page).get_data(as_text=True)
    response = post_form(client, page, {"action": "link", "subject": "bob-sub"}, token_from=page)
    assert response.status_code == 302
    assert "Linked to subject bob-sub" in client.get(page).get_data(as_text=True)
    users = client.get("/admin/users").get_data(as_text=True)
    assert "bob-sub" in users

    alice = make_user(sso_app, "alice")
    taken = post_form(
        client,
        f"/admin/users/{alice}/sign-in",
        {"action": "link", "subject": "bob-sub"},
        token_from=page,
    )
    assert taken.status_code == 400
    assert "already linked to another user" in taken.get_data(as_text=True)

    post_form(client, page, {"action": "unlink"}, token_from=page)
    assert "Not linked" in client.get(page).get_data(as_text=True)
    actions = [e.action for e in events(sso_app, "sso.identity_linked")]
    actions += [e.action for e in events(sso_app, "sso.identity_unlinked")]
    assert actions == ["sso.identity_linked", "sso.identity_unlinked"]


def test_without_an_identity_provider_the_link_page_offers_nothing_to_link(app: Flask) -> None:
    make_user(app, "admin", roles=("System administrator",))
    bob = make_user(app, "bob")
    client = app.test_client()
    sign_in(client, "admin")
    page = f"/admin/users/{bob}/sign-in"
    body = client.get(page).get_data(as_text=True)
    assert "Single sign-on is not set up on this console" in body
    assert 'name="action"' not in body  # no form that could only fail
    response = post_form(client, page, {"action": "link", "subject": "bob-sub"}, token_from=page)
    assert response.status_code == 409
    assert "Single sign-on is not set up on this console" in response.get_data(as_text=True)
    assert events(app, "sso.identity_linked") == []


def test_the_link_page_needs_the_users_permission(sso_app: Flask) -> None:
    make_user(sso_app, "carol")
    bob = make_user(sso_app, "bob")
    client = sso_app.test_client()
    sign_in(client, "carol")
    assert client.get(f"/admin/users/{bob}/sign-in").status_code == 403


ODD = ("", "\x00", "x" * 3000, "<script>alert(1)</script>", "٣", "' OR 1=1 --")


def test_odd_input_to_the_link_form_and_the_callback_gets_a_clear_answer(
    sso_app: Flask,
) -> None:
    make_user(sso_app, "admin", roles=("System administrator",))
    bob = make_user(sso_app, "bob")
    client = sso_app.test_client()
    sign_in(client, "admin")
    page = f"/admin/users/{bob}/sign-in"
    for value in ODD:
        for action in ("link", value):
            response = post_form(
                client, page, {"action": action, "subject": value}, token_from=page
            )
            body = response.get_data(as_text=True)
            assert response.status_code in (302, 400), (action, value)
            assert "<script>alert(1)</script>" not in body
    anonymous = sso_app.test_client()
    for value in ODD:
        response = anonymous.get("/auth/sso/callback", query_string={"state": value, "code": value})
        assert response.status_code in (302, 400)  # 400: a NUL character
        response = anonymous.get("/auth/sso/callback", query_string={"error": value})
        assert response.status_code in (302, 400)  # 400: a NUL character
