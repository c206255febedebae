"""Creating and editing users, optimistic locking, the account actions, last-admin protection."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from console.auth.passwords import verify_password
from console.db import db
from console.db.models import RecoveryCode, User, UserSession, utcnow
from tests.support.admin import Admin, add_session, edit_form, insert_users, shared_hash, signed_in
from tests.support.audit import audit_count, audit_rows
from tests.support.users import get_user, make_user, sign_in


def find(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None
        db.session.expunge(user)
        return user


# --- create ---------------------------------------------------------------------------------


def test_create_with_a_generated_password_shown_once(app: Flask, admin: Admin) -> None:
    response = admin.post("/admin/users/new", {"username": "New.Person", "full_name": "New Person",
                                               "email": "New@Example.org", "roles": ["2", "4"],
                                               "password_mode": "generate"})  # fmt: skip
    # Post/redirect/get: the password page is a GET of its own, never the POST's answer.
    assert response.status_code == 303
    user = find(app, "new.person")
    assert response.headers["Location"] == f"/admin/users/{user.id}/created"
    assert "It is shown only this once" not in response.get_data(as_text=True)
    shown = admin.get(response.headers["Location"])
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "It is shown only this once" in html
    password = re.search(r'<code id="temporary-password">([^<]+)</code>', html).group(1)  # type: ignore[union-attr]
    assert password not in response.headers["Location"]
    # A reload neither shows the password again nor creates anyone again.
    again = admin.get(response.headers["Location"])
    assert again.status_code == 302 and again.headers["Location"] == f"/admin/users/{user.id}"
    assert password not in again.get_data(as_text=True)
    detail = admin.get(again.headers["Location"]).get_data(as_text=True)
    assert "The temporary password was shown once and is not kept." in detail
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(User.username == "new.person")) == 1
    assert user.email == "new@example.org" and user.must_change_password
    assert verify_password(user.password_hash, password)
    with app.app_context():
        assert sorted(r.name for r in db.session.get(User, user.id).roles) == [
            "Auditor",
            "Clinician",
        ]
    event = audit_rows(app, "user.create")[-1]
    assert event.target_id == str(user.id) and event.actor_id == admin.user_id
    assert event.after["roles"] == ["Auditor", "Clinician"]
    assert password not in json.dumps(event.after)
    assert shown.headers["Cache-Control"] == "no-store"


def test_the_temporary_password_page_shows_nothing_for_another_user(
    app: Flask, admin: Admin
) -> None:
    response = admin.post("/admin/users/new", {"username": "first.one", "full_name": "First",
                                               "email": "first@example.org",
                                               "password_mode": "generate"})  # fmt: skip
    (other,) = insert_users(app, [{"username": "second.one"}])
    wrong = admin.get(f"/admin/users/{other}/created")
    assert wrong.status_code == 302 and "temporary-password" not in wrong.get_data(as_text=True)
    assert "It is shown only this once" in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_the_create_form_states_the_minimum_password_length(admin: Admin) -> None:
    html = admin.get("/admin/users/new").get_data(as_text=True)
    assert "At least 12 characters" in html
    assert 'data-shown-when="password_mode=type"' in html


def test_create_with_a_typed_password_must_meet_the_policy(app: Flask, admin: Admin) -> None:
    events = audit_count(app)
    form = {"username": "typed", "full_name": "Typed", "email": "typed@example.org",
            "password_mode": "type", "password": "short", "password_confirm": "short"}  # fmt: skip
    response = admin.post("/admin/users/new", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in html and "at least 12 characters" in html
    assert 'href="#password"' in html  # the summary links to the field
    mismatch = admin.post("/admin/users/new", form | {"password": "a very long passphrase 1",
                                                       "password_confirm": "different"})  # fmt: skip
    assert "The two passwords are not the same." in mismatch.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(User.username == "typed")) == 0
    assert audit_count(app) == events
    good = admin.post("/admin/users/new", form | {"password": "a very long passphrase 1",
                                                   "password_confirm": "a very long passphrase 1"})  # fmt: skip
    assert good.status_code == 302
    assert verify_password(find(app, "typed").password_hash, "a very long passphrase 1")


def test_create_reports_taken_username_and_email_on_their_fields(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": "taken", "email": "taken@example.org"}])
    form = {
        "username": "TAKEN",
        "full_name": "X",
        "email": "other@example.org",
        "password_mode": "generate",
    }
    html = admin.post("/admin/users/new", form).get_data(as_text=True)
    assert 'id="username-error"' in html and "The username taken is already taken." in html
    html = admin.post(
        "/admin/users/new", form | {"username": "fresh", "email": "Taken@Example.org"}
    ).get_data(as_text=True)
    assert 'id="email-error"' in html and "already used by another user" in html
    html = admin.post("/admin/users/new", form | {"username": "bad name!"}).get_data(as_text=True)
    assert "Use letters, digits" in html


# --- edit and optimistic locking ------------------------------------------------------------


def test_edit_saves_changes_and_audits_only_what_changed(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "ed", "full_name": "Ed Old"}], roles=("Clinician",))[
        0
    ]
    form = edit_form(admin, user_id) | {"full_name": "Ed New", "email": "ed@example.org",
                                        "roles": ["2", "4"], "active": "y"}  # fmt: skip
    response = admin.post(f"/admin/users/{user_id}", form)
    assert response.status_code == 302
    assert "Saved the changes to ed." in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )
    event = audit_rows(app, "user.update")[-1]
    assert event.before == {"full_name": "Ed Old", "roles": ["Clinician"]}
    assert event.after == {"full_name": "Ed New", "roles": ["Auditor", "Clinician"]}
    assert get_user(app, user_id).version == 2
    # Saving the same values again changes nothing and writes no event.
    again = edit_form(admin, user_id) | {"full_name": "Ed New", "email": "ed@example.org",
                                         "roles": ["2", "4"], "active": "y"}  # fmt: skip
    admin.post(f"/admin/users/{user_id}", again)
    assert len(audit_rows(app, "user.update")) == 1


def test_edit_shows_inline_errors_and_a_summary(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "inl"}])[0]
    form = edit_form(admin, user_id) | {"full_name": "", "email": "not-an-address", "active": "y"}
    response = admin.post(f"/admin/users/{user_id}", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in html
    assert '<a href="#full_name">Enter the person&#39;s name.</a>' in html
    assert 'id="email-error"' in html and 'aria-invalid="true"' in html
    assert audit_rows(app, "user.update") == []


def _conflict(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "shared", "full_name": "Shared Person"}],
                           roles=("Clinician",))[0]  # fmt: skip
    other = signed_in(app, "other.admin", ("System administrator",))
    mine = edit_form(admin, user_id)
    theirs = edit_form(other, user_id)
    # The other administrator saves first: new e-mail and an extra role.
    assert other.post(f"/admin/users/{user_id}", theirs | {
        "full_name": "Shared Person", "email": "new@example.org", "roles": ["2", "4"],
        "active": "y"}).status_code == 302  # fmt: skip
    # My save, from the form opened before theirs, is refused and overwrites nothing.
    response = admin.post(f"/admin/users/{user_id}", mine | {
        "full_name": "My Name", "email": "shared@example.org", "roles": ["2"], "active": "y"})  # fmt: skip
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This user was changed while you were editing" in html
    assert "Nothing you entered has been saved." in html
    what_changed = html[html.index("What the other change did") : html.index("What you entered")]
    assert "shared@example.org" in what_changed and "new@example.org" in what_changed
    assert "Auditor, Clinician" in what_changed and "Full name" not in what_changed
    assert "My Name" in html[html.index("What you entered") :]
    saved = get_user(app, user_id)
    assert (saved.full_name, saved.email, saved.version) == ("Shared Person", "new@example.org", 2)
    assert len(audit_rows(app, "user.update")) == 1
    # The form now carries the saved version, so a deliberate second save goes through.
    assert 'value="2"' in html


def test_a_stale_edit_gets_a_conflict_and_overwrites_nothing(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    _conflict(app, signed_in(app, "root", ("System administrator",)))


def test_a_bulk_role_change_makes_open_edit_forms_stale(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "bk"}])[0]
    form = edit_form(admin, user_id)
    admin.post("/admin/users/bulk", admin.confirmed({"action": "assign_role", "role_id": "4", "scope": "selected",
                                     "ids": str(user_id)}))  # fmt: skip
    response = admin.post(f"/admin/users/{user_id}", form | {"full_name": "X", "email": "bk@example.org",
                                                             "active": "y"})  # fmt: skip
    assert response.status_code == 409
    assert get_user(app, user_id).full_name == "Bk"


def test_bookkeeping_updates_do_not_make_an_edit_stale(app: Flask, admin: Admin) -> None:
    """A sign-in or a failed attempt bumps the row's version but not what the form edits."""
    user_id = insert_users(app, [{"username": "busy"}])[0]
    form = edit_form(admin, user_id)
    admin.post("/admin/users/bulk", admin.confirmed({"action": "require_password_change", "scope": "selected",
                                     "ids": str(user_id)}))  # fmt: skip
    response = admin.post(f"/admin/users/{user_id}", form | {"full_name": "Busy Bee",
                                                             "email": "busy@example.org", "active": "y"})  # fmt: skip
    assert response.status_code == 302
    assert get_user(app, user_id).full_name == "Busy Bee"


# --- last administrator ---------------------------------------------------------------------


def _last_admin_edit(app: Flask, admin: Admin) -> None:
    events = audit_count(app)
    version = get_user(app, admin.user_id).version
    form = edit_form(admin, admin.user_id)
    base = {"full_name": "Root", "email": "root@example.org"}
    demote = admin.post(
        f"/admin/users/{admin.user_id}", form | base | {"roles": ["2"], "active": "y"}
    )
    assert demote.status_code == 403  # nobody changes their own roles
    assert "You cannot change your own roles" in demote.get_data(as_text=True)
    disable = admin.post(f"/admin/users/{admin.user_id}", form | base | {"roles": ["1"]})
    assert disable.status_code == 409
    assert "no active user who can manage users" in disable.get_data(as_text=True)
    action = admin.post(f"/admin/users/{admin.user_id}/actions/disable")
    assert action.status_code == 409
    user = get_user(app, admin.user_id)
    assert user.active and user.version == version
    with app.app_context():
        assert [r.name for r in db.session.get(User, admin.user_id).roles] == [
            "System administrator"
        ]
    assert audit_count(app) == events + 1  # the refused change of its own roles, as denied
    # With a second active administrator, the first may be demoted (by the second).
    deputy = signed_in(app, "deputy", ("System administrator",))
    form = edit_form(deputy, admin.user_id)
    assert deputy.post(f"/admin/users/{admin.user_id}",
                       form | base | {"roles": ["2"], "active": "y"}).status_code == 302  # fmt: skip


def test_the_last_administrator_cannot_be_demoted_or_disabled(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    _last_admin_edit(app, signed_in(app, "root", ("System administrator",)))


def test_a_disabled_or_locked_holder_does_not_count_but_a_locked_one_does(
    app: Flask, admin: Admin
) -> None:
    insert_users(app, [{"username": "off.admin", "active": False}], roles=("System administrator",))
    assert admin.post(f"/admin/users/{admin.user_id}/actions/disable").status_code == 409
    insert_users(app, [{"username": "locked.admin", "locked_until": utcnow() + timedelta(hours=1)}],
                 roles=("System administrator",))  # fmt: skip
    assert admin.post(f"/admin/users/{admin.user_id}/actions/disable").status_code == 302


# --- account actions ------------------------------------------------------------------------


def test_reset_password_sets_a_temporary_one_and_ends_sessions(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "forgetful"}])[0]
    add_session(app, user_id)
    response = admin.post(
        f"/admin/users/{user_id}/actions/reset-password", {"password_mode": "generate"}
    )
    # Post/redirect/get: the password page is a GET of its own, never the POST's answer.
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{user_id}/new-password"
    assert "temporary-password" not in response.get_data(as_text=True)
    shown = admin.get(response.headers["Location"])
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert "New temporary password for forgetful" in html
    password = re.search(r'<code id="temporary-password">([^<]+)</code>', html).group(1)  # type: ignore[union-attr]
    user = get_user(app, user_id)
    assert verify_password(user.password_hash, password) and user.must_change_password
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(UserSession.user_id == user_id)) == 0
    assert [e.target_id for e in audit_rows(app, "user.password_reset")] == [str(user_id)]
    assert password not in json.dumps([e.details for e in audit_rows(app, "user.password_reset")])
    # A reload (or Back to it) neither shows the password again nor resets it again.
    again = admin.get(response.headers["Location"])
    assert again.status_code == 302 and again.headers["Location"] == f"/admin/users/{user_id}"
    assert password not in again.get_data(as_text=True)
    detail = admin.get(again.headers["Location"]).get_data(as_text=True)
    assert "The temporary password was shown once and is not kept." in detail
    assert password not in detail
    assert len(audit_rows(app, "user.password_reset")) == 1
    assert verify_password(get_user(app, user_id).password_hash, password)


def test_a_reset_password_is_shown_only_on_its_own_page(app: Flask, admin: Admin) -> None:
    first, second = insert_users(app, [{"username": "reset.one"}, {"username": "reset.two"}])
    response = admin.post(
        f"/admin/users/{first}/actions/reset-password", {"password_mode": "generate"}
    )
    # Neither another user's page nor the "created" page of the same user shows it.
    for wrong in (f"/admin/users/{second}/new-password", f"/admin/users/{first}/created"):
        answer = admin.get(wrong)
        assert answer.status_code == 302, wrong
        assert "temporary-password" not in answer.get_data(as_text=True)
    shown = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "New temporary password for reset.one" in shown and "temporary-password" in shown


def test_an_administrator_cannot_reset_their_own_password_here(app: Flask, admin: Admin) -> None:
    before = get_user(app, admin.user_id).password_hash
    page = admin.get(f"/admin/users/{admin.user_id}").get_data(as_text=True)
    assert f"/admin/users/{admin.user_id}/actions/reset-password" not in page
    response = admin.post(
        f"/admin/users/{admin.user_id}/actions/reset-password", {"password_mode": "generate"}
    )
    assert response.status_code == 409
    assert "use “Change password” on your account page" in response.get_data(as_text=True)
    assert get_user(app, admin.user_id).password_hash == before
    assert audit_rows(app, "user.password_reset") == []
    assert admin.get("/admin/users").status_code == 200  # still signed in


def test_reset_password_with_a_typed_password_checks_the_policy(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "typist"}])[0]
    weak = {
        "password_mode": "type",
        "password": "typist-is-me-ok",
        "password_confirm": "typist-is-me-ok",
    }
    response = admin.post(f"/admin/users/{user_id}/actions/reset-password", weak)
    assert response.status_code == 400
    assert "must not contain" in response.get_data(as_text=True)
    assert get_user(app, user_id).password_hash == shared_hash()
    assert audit_rows(app, "user.password_reset") == []
    good = {
        "password_mode": "type",
        "password": "a long new passphrase",
        "password_confirm": "a long new passphrase",
    }
    response = admin.post(f"/admin/users/{user_id}/actions/reset-password", good)
    assert response.status_code == 302  # nothing to show: the administrator typed it
    assert verify_password(get_user(app, user_id).password_hash, "a long new passphrase")


def test_unlock_clears_the_lock_and_is_audited(app: Flask, admin: Admin) -> None:
    now = utcnow()
    user_id = insert_users(app, [{"username": "locked", "failed_login_count": 9,
                                  "locked_until": now + timedelta(minutes=9), "last_failed_login_at": now}])[0]  # fmt: skip
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "Locked until" in page and f"/admin/users/{user_id}/actions/unlock" in page
    response = admin.post(f"/admin/users/{user_id}/actions/unlock")
    assert "Unlocked locked." in admin.get(response.headers["Location"]).get_data(as_text=True)
    user = get_user(app, user_id)
    assert (user.failed_login_count, user.locked_until, user.last_failed_login_at) == (
        0,
        None,
        None,
    )
    assert len(audit_rows(app, "user.unlock")) == 1
    # Unlocking again changes nothing and writes nothing.
    admin.post(f"/admin/users/{user_id}/actions/unlock")
    assert len(audit_rows(app, "user.unlock")) == 1


def test_reset_two_factor_removes_the_authenticator_and_recovery_codes(
    app: Flask, admin: Admin
) -> None:
    user_id = insert_users(app, [{"username": "totp", "totp_enabled": True, "totp_secret": "JBSWY3DPEHPK3PXP",
                                  "totp_last_used_step": 123}])[0]  # fmt: skip
    with app.app_context():
        db.session.add_all([RecoveryCode(user_id=user_id, code_hash="h") for _ in range(3)])
        db.session.commit()
    assert admin.post(f"/admin/users/{user_id}/actions/reset-totp").status_code == 302
    user = get_user(app, user_id)
    assert (user.totp_enabled, user.totp_secret, user.totp_last_used_step) == (False, None, None)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(RecoveryCode.user_id == user_id)) == 0
    event = audit_rows(app, "user.totp_reset")[0]
    assert event.before == {"totp_enabled": True, "recovery_codes": 3}


def test_end_sessions_deletes_the_rows_and_is_audited(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "roamer"}])[0]
    add_session(app, user_id)
    add_session(app, user_id, client="10.0.0.2")
    response = admin.post(f"/admin/users/{user_id}/actions/end-sessions")
    assert "Ended 2 sessions of roamer." in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert audit_rows(app, "user.sessions_end")[0].details == {"count": 2}
    admin.post(f"/admin/users/{user_id}/actions/end-sessions")
    assert len(audit_rows(app, "user.sessions_end")) == 1


def test_disable_and_enable_from_the_user_page(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "toggle"}])[0]
    add_session(app, user_id)
    admin.post(f"/admin/users/{user_id}/actions/disable")
    assert not get_user(app, user_id).active
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(UserSession.user_id == user_id)) == 0
    admin.post(f"/admin/users/{user_id}/actions/enable")
    assert get_user(app, user_id).active
    assert [e.action for e in audit_rows(app) if e.target_id == str(user_id)] == [
        "user.disable",
        "user.enable",
    ]


def test_only_never_used_accounts_can_be_deleted(app: Flask, admin: Admin) -> None:
    unused, used = insert_users(
        app, [{"username": "unused"}, {"username": "used", "last_sign_in_at": utcnow()}]
    )
    page = admin.get(f"/admin/users/{used}").get_data(as_text=True)
    assert "/actions/delete" not in page
    refused = admin.post(f"/admin/users/{used}/actions/delete")
    assert refused.status_code == 409 and "Disable it instead" in refused.get_data(as_text=True)
    assert audit_rows(app, "user.delete") == []
    assert admin.post(f"/admin/users/{unused}/actions/delete").status_code == 302
    with app.app_context():
        assert db.session.get(User, unused) is None
    event = audit_rows(app, "user.delete")[0]
    assert event.target_id == str(unused) and event.before["username"] == "unused"
    assert admin.get(f"/admin/users/{unused}").status_code == 404


def test_action_pages_confirm_without_javascript(app: Flask, admin: Admin) -> None:
    user_id = insert_users(app, [{"username": "nojs"}])[0]
    page = admin.get(f"/admin/users/{user_id}/actions/disable")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Disable this user: nojs" in html
    assert f'action="/admin/users/{user_id}/actions/disable"' in html
    assert get_user(app, user_id).active  # a GET changes nothing
    detail = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert (
        'data-confirm-dialog="dialog-disable"' in detail and '<dialog id="dialog-disable"' in detail
    )
    assert admin.get(f"/admin/users/{user_id}/actions/explode").status_code == 404
    assert admin.get("/admin/users/999999").status_code == 404


@pytest.mark.parametrize("action", ["disable", "reset-totp", "end-sessions", "delete", "unlock"])
def test_actions_without_a_csrf_token_are_refused(app: Flask, admin: Admin, action: str) -> None:
    user_id = insert_users(app, [{"username": "csrf"}])[0]
    events = audit_count(app)
    response = admin.client.post(f"/admin/users/{user_id}/actions/{action}", data={})
    assert response.status_code == 400
    assert audit_count(app) == events
    assert get_user(app, user_id).active


# --- requiring two-factor -------------------------------------------------------------------


def test_require_two_factor_sends_the_user_to_set_up_before_anything_else(
    app: Flask, admin: Admin
) -> None:
    user_id = make_user(app, "ward.clerk")
    clerk = app.test_client()
    assert sign_in(clerk, "ward.clerk").status_code == 302
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert f"/admin/users/{user_id}/actions/require-totp" in page
    response = admin.post(f"/admin/users/{user_id}/actions/require-totp")
    assert "ward.clerk must set up two-factor before doing anything else." in admin.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert get_user(app, user_id).must_enrol_totp
    [event] = audit_rows(app, "user.totp_required")
    assert (event.target_id, event.before, event.after) == (
        str(user_id),
        {"must_enrol_totp": False},
        {"must_enrol_totp": True},
    )
    # The signed-in clerk is sent to set-up on their next page.
    nxt = clerk.get("/")
    assert nxt.status_code == 302 and nxt.headers["Location"].startswith("/auth/two-factor/set-up")
    # Asking again changes nothing, writes nothing, and the button is gone.
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "actions/require-totp" not in page and "must set it up" in page
    admin.post(f"/admin/users/{user_id}/actions/require-totp")
    assert len(audit_rows(app, "user.totp_required")) == 1


def test_the_two_factor_requirement_can_be_withdrawn(app: Flask, admin: Admin) -> None:
    user_id = make_user(app, "locum.gp")
    locum = app.test_client()
    assert sign_in(locum, "locum.gp").status_code == 302
    admin.post(f"/admin/users/{user_id}/actions/require-totp")
    assert locum.get("/").headers["Location"].startswith("/auth/two-factor/set-up")
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert f"/admin/users/{user_id}/actions/withdraw-totp" in page

    response = admin.post(f"/admin/users/{user_id}/actions/withdraw-totp")
    assert "locum.gp no longer has to set up two-factor." in admin.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert not get_user(app, user_id).must_enrol_totp
    [event] = audit_rows(app, "user.totp_requirement_withdrawn")
    assert (event.target_id, event.before, event.after) == (
        str(user_id),
        {"must_enrol_totp": True},
        {"must_enrol_totp": False},
    )
    assert locum.get("/").status_code == 200  # no longer sent to set-up
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "actions/withdraw-totp" not in page and "actions/require-totp" in page
    # Withdrawing again changes nothing and writes nothing.
    admin.post(f"/admin/users/{user_id}/actions/withdraw-totp")
    assert len(audit_rows(app, "user.totp_requirement_withdrawn")) == 1


def test_withdrawing_the_requirement_leaves_the_administrators_policy_in_force(
    app: Flask, admin: Admin
) -> None:
    from console.appsettings import store_setting

    user_id = make_user(
        app,
        "second.admin",
        roles=("System administrator",),
        must_enrol_totp=True,
        totp_enabled=False,
    )
    admin.post(f"/admin/users/{user_id}/actions/withdraw-totp")
    assert not get_user(app, user_id).must_enrol_totp
    with app.app_context():
        store_setting("security.require_totp_for_admins", True, None)
        db.session.commit()
    other = app.test_client()
    response = sign_in(other, "second.admin")
    assert response.headers["Location"].startswith("/auth/two-factor/set-up")


def test_withdraw_two_factor_in_bulk_changes_only_users_who_had_it(
    app: Flask, admin: Admin
) -> None:
    due, free = insert_users(app, [
        {"username": "wd.due", "must_enrol_totp": True}, {"username": "wd.free"}])  # fmt: skip
    form = {"action": "withdraw_totp", "scope": "filter", "q": "wd."}
    confirm = admin.post("/admin/users/bulk/confirm", form).get_data(as_text=True)
    assert "Withdraw the two-factor set-up requirement for 1 user" in confirm
    assert admin.post("/admin/users/bulk", admin.confirmed(form)).status_code == 302
    assert [get_user(app, i).must_enrol_totp for i in (due, free)] == [False, False]
    assert [e.target_id for e in audit_rows(app, "user.totp_requirement_withdrawn")] == [str(due)]


def test_require_two_factor_in_bulk_skips_users_who_have_it(app: Flask, admin: Admin) -> None:
    have, lack, flagged = insert_users(app, [
        {"username": "mfa.on", "totp_enabled": True, "totp_secret": "JBSWY3DPEHPK3PXP"},
        {"username": "mfa.off"}, {"username": "mfa.due", "must_enrol_totp": True}])  # fmt: skip
    form = {"action": "require_totp", "scope": "filter", "q": "mfa."}
    confirm = admin.post("/admin/users/bulk/confirm", form).get_data(as_text=True)
    assert "Require two-factor set-up for 1 user" in confirm
    assert admin.post("/admin/users/bulk", admin.confirmed(form)).status_code == 302
    assert [get_user(app, i).must_enrol_totp for i in (have, lack, flagged)] == [False, True, True]
    assert [e.target_id for e in audit_rows(app, "user.totp_required")] == [str(lack)]
    listing = admin.get("/admin/users?q=mfa.").get_data(as_text=True)
    assert listing.count("Must set up two-factor") == 2
