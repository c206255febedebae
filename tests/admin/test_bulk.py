"""Bulk actions: over a selection or every user matching a filter, counted, confirmed, audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import Role, User, UserSession, utcnow
from tests.support.admin import Admin, add_session, insert_users, signed_in
from tests.support.audit import audit_rows


def states(app: Flask) -> dict[str, tuple[bool, bool, list[str], int]]:
    """username → (active, must change password, roles, version)."""
    with app.app_context():
        return {
            user.username: (
                user.active,
                user.must_change_password,
                sorted(r.name for r in user.roles),
                user.version,
            )
            for user in db.session.scalars(select(User))
        }


def _bulk_over_filter(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"locum{i}", "full_name": f"Locum {i}"} for i in range(4)],
                 roles=("Clinician",))  # fmt: skip
    insert_users(app, [{"username": "locum.gone", "active": False}], roles=("Clinician",))
    insert_users(app, [{"username": "locum.auditor"}], roles=("Auditor",))
    insert_users(app, [{"username": "permanent"}], roles=("Clinician",))
    before = states(app)
    form = {"action": "disable", "scope": "filter", "q": "locum", "role": "2"}

    confirm = admin.post("/admin/users/bulk/confirm", form, htmx=True)
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "<dialog" in html and "data-show-modal" in html
    assert "5 users match the current search and filters." in html
    assert "1 of them is already as asked and will not change." in html
    assert "Disable 4 users" in html

    done = admin.post("/admin/users/bulk", admin.confirmed(form), htmx=True)
    assert done.status_code == 200
    assert "Disabled 4 users." in done.get_data(as_text=True)
    after = states(app)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {f"locum{i}" for i in range(4)}
    assert all(not after[f"locum{i}"][0] and after[f"locum{i}"][3] == 2 for i in range(4))

    events = audit_rows(app, "user.disable")
    assert len(events) == 4
    with app.app_context():
        ids = {str(db.session.scalar(select(User.id).where(User.username == f"locum{i}")))
               for i in range(4)}  # fmt: skip
    assert {e.target_id for e in events} == ids
    assert len({e.details["bulk"] for e in events}) == 1
    assert events[0].details["filter"] == {"q": "locum", "role": "2"}
    assert events[0].before == {"active": True} and events[0].after == {"active": False}
    assert all(e.actor_id == admin.user_id for e in events)


def test_bulk_action_over_a_filter_touches_exactly_the_matching_rows(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    _bulk_over_filter(app, signed_in(app, "root", ("System administrator",)))


def test_bulk_action_on_selected_rows_only(app: Flask, admin: Admin) -> None:
    ids = insert_users(app, [{"username": f"sel{i}"} for i in range(4)])
    before = states(app)
    response = admin.client.post(
        "/admin/users/bulk",
        data={"csrf_token": admin.token(), "action": "require_password_change",
              "scope": "selected", "ids": [str(ids[1]), str(ids[3])],
              "confirmation": admin.confirmed({"action": "require_password_change",
                  "scope": "selected", "ids": [str(ids[1]), str(ids[3])]})["confirmation"]},
    )  # fmt: skip
    assert response.status_code == 302  # without htmx: back to the list with a message
    after = states(app)
    assert {n for n in after if after[n] != before[n]} == {"sel1", "sel3"}
    assert after["sel1"][1] and after["sel3"][1]
    assert "Required a password change for 2 users." in admin.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert [e.target_id for e in audit_rows(app, "user.password_change_required")] == [
        str(ids[1]),
        str(ids[3]),
    ]


def test_assign_and_remove_a_role_in_bulk(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": "ra1"}, {"username": "ra2"}], roles=("Clinician",))
    insert_users(app, [{"username": "ra3"}], roles=("Auditor", "Clinician"))
    form = {"action": "assign_role", "role_id": "4", "scope": "filter", "q": "ra"}
    confirm = admin.post("/admin/users/bulk/confirm", form).get_data(as_text=True)
    assert "<html" in confirm  # without htmx, a confirmation page
    assert "Assign the role “Auditor” to 2 users" in confirm
    assert admin.post("/admin/users/bulk", admin.confirmed(form)).status_code == 302
    assert {n: s[2] for n, s in states(app).items() if n.startswith("ra")} == {
        name: ["Auditor", "Clinician"] for name in ("ra1", "ra2", "ra3")
    }
    event = audit_rows(app, "user.role_assign")[0]
    assert event.before == {"roles": ["Clinician"]}
    assert event.after == {"roles": ["Auditor", "Clinician"]}

    remove = {"action": "remove_role", "role_id": "2", "scope": "filter", "q": "ra"}
    assert admin.post("/admin/users/bulk", admin.confirmed(remove)).status_code == 302
    assert all(s[2] == ["Auditor"] for n, s in states(app).items() if n.startswith("ra"))
    assert len(audit_rows(app, "user.role_remove")) == 3


def test_bulk_unlock_clears_lock_state(app: Flask, admin: Admin) -> None:
    now = utcnow()
    insert_users(
        app,
        [{"username": "lk1", "locked_until": now + timedelta(minutes=5), "failed_login_count": 7,
          "last_failed_login_at": now},
         {"username": "lk2"}],
    )  # fmt: skip
    form = {"action": "unlock", "scope": "filter", "q": "lk"}
    assert "Unlock 1 user" in admin.post("/admin/users/bulk/confirm", form).get_data(as_text=True)
    admin.post("/admin/users/bulk", admin.confirmed(form))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "lk1"))
        assert (user.locked_until, user.failed_login_count, user.last_failed_login_at) == (
            None,
            0,
            None,
        )
    assert len(audit_rows(app, "user.unlock")) == 1


def test_bulk_disable_ends_the_users_sessions(app: Flask, admin: Admin) -> None:
    ids = insert_users(app, [{"username": "sess1"}, {"username": "sess2"}])
    add_session(app, ids[0])
    kept = add_session(app, ids[1])
    admin.post("/admin/users/bulk", admin.confirmed({"action": "disable", "scope": "selected",
                                     "ids": str(ids[0])}))  # fmt: skip
    with app.app_context():
        assert [s.id for s in db.session.scalars(select(UserSession).where(
            UserSession.user_id.in_(ids)))] == [kept]  # fmt: skip


def test_a_changed_selection_since_confirmation_changes_nothing(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": "st1"}, {"username": "st2"}])
    form = {"action": "disable", "scope": "filter", "q": "st"}
    confirmed = admin.confirmed(form)
    insert_users(app, [{"username": "st3"}])  # someone adds a matching user meanwhile
    before = states(app)
    response = admin.post("/admin/users/bulk", confirmed, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#bulk-dialog-slot"
    assert "it would now change 3 of 3 matching users" in html
    assert "Disable 3 users" in html  # a fresh confirmation with the new count
    assert states(app) == before
    assert audit_rows(app, "user.disable") == []


def _last_admin_bulk(app: Flask, admin: Admin) -> None:
    other = insert_users(app, [{"username": "second.admin", "active": False}],
                         roles=("System administrator",))[0]  # fmt: skip
    before = states(app)
    # Disabling every administrator (the only active one is root) is refused as a whole.
    form = {"action": "disable", "scope": "filter", "role": "1"}
    response = admin.post("/admin/users/bulk", admin.confirmed(form))
    assert response.status_code == 409
    assert "no active user who can manage users" in response.get_data(as_text=True)
    # Removing the administrator role from everyone who has it includes oneself: refused too.
    remove = {"action": "remove_role", "role_id": "1", "scope": "selected",
              "ids": [str(admin.user_id), str(other)]}  # fmt: skip
    response = admin.post("/admin/users/bulk", remove, htmx=True)
    assert response.status_code == 403
    assert "You cannot change your own roles" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#bulk-dialog-slot"
    assert states(app) == before
    assert audit_rows(app, "user.disable") == []
    assert [e.outcome for e in audit_rows(app, "user.role_remove")] == ["denied"]


def test_bulk_actions_cannot_remove_the_last_administrator(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    _last_admin_bulk(app, signed_in(app, "root", ("System administrator",)))


def test_bulk_disable_of_all_but_one_administrator_is_allowed(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"adm{i}"} for i in range(3)], roles=("System administrator",))
    form = {"action": "disable", "scope": "filter", "q": "adm"}
    assert admin.post("/admin/users/bulk", admin.confirmed(form)).status_code == 302
    assert len(audit_rows(app, "user.disable")) == 3


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"action": "explode", "scope": "filter"}, "Choose what to do"),
        ({"action": "disable", "scope": "selected"}, "Select at least one user"),
        ({"action": "assign_role", "scope": "filter"}, "Choose the role"),
        ({"action": "disable", "scope": "somewhere"}, "Choose the selected users"),
    ],
)
def test_incomplete_bulk_forms_are_explained(
    admin: Admin, form: dict[str, str], problem: str
) -> None:
    for path in ("/admin/users/bulk/confirm", "/admin/users/bulk"):
        response = admin.post(path, form)
        assert response.status_code == 400
        assert problem in response.get_data(as_text=True)


def test_nothing_to_change_says_so(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": "off1", "active": False}])
    html = admin.post("/admin/users/bulk/confirm", {"action": "disable", "scope": "filter",
                                                    "q": "off1"}, htmx=True).get_data(as_text=True)  # fmt: skip
    assert "Nothing to change" in html and "/admin/users/bulk" not in html


def test_the_confirmation_keeps_the_view_and_the_result_refreshes_it(
    app: Flask, admin: Admin
) -> None:
    insert_users(app, [{"username": "vw1"}, {"username": "vw2"}])
    form = {"action": "disable", "scope": "filter", "q": "vw", "sort": "username", "dir": "desc"}
    dialog = admin.post("/admin/users/bulk/confirm", form, htmx=True).get_data(as_text=True)
    for hidden in ('name="q" value="vw"', 'name="dir" value="desc"', 'name="confirmation" value="'):
        assert hidden in dialog
    done = admin.post("/admin/users/bulk", admin.confirmed(form), htmx=True)
    html = done.get_data(as_text=True)
    assert re.findall(r'href="/admin/users/\d+">(vw\d)<', html) == ["vw2", "vw1"]
    assert 'id="admin-message" hx-swap-oob="innerHTML">Disabled 2 users.' in html
    assert 'id="bulk-dialog-slot" hx-swap-oob="true"' in html


def test_roles_in_bulk_forms_must_exist(app: Flask, admin: Admin) -> None:
    with app.app_context():
        assert db.session.get(Role, 99) is None
    response = admin.post("/admin/users/bulk/confirm",
                          {"action": "assign_role", "role_id": "99", "scope": "filter"})  # fmt: skip
    assert response.status_code == 400


def test_a_bulk_change_without_a_valid_confirmation_changes_nothing(
    app: Flask, admin: Admin
) -> None:
    insert_users(app, [{"username": "nc1"}, {"username": "nc2"}])
    form = {"action": "disable", "scope": "filter", "q": "nc"}
    before = states(app)
    for extra in ({}, {"expected": "2"}, {"confirmation": "abc"}, {"confirmation": "abc.def"}):
        response = admin.post("/admin/users/bulk", form | extra)
        assert response.status_code == 409, extra
        assert "not the ones you confirmed" in response.get_data(as_text=True)
    # A confirmation of another action does not stand for this one either.
    other = admin.confirmed({"action": "require_password_change", "scope": "filter", "q": "nc"})
    response = admin.post("/admin/users/bulk", form | {"confirmation": other["confirmation"]})
    assert response.status_code == 409
    assert states(app) == before
    assert audit_rows(app, "user.disable") == []


def test_a_swapped_user_with_the_same_count_is_stale(app: Flask, admin: Admin) -> None:
    ids = insert_users(app, [{"username": "sw1"}, {"username": "sw2"}, {"username": "other"}])
    form = {"action": "disable", "scope": "filter", "q": "sw"}
    confirmed = admin.confirmed(form)
    with app.app_context():  # one reviewed user leaves the filter, an unseen one enters it
        for user_id, name in ((ids[1], "gone"), (ids[2], "sw3")):
            user = db.session.get(User, user_id)
            assert user is not None
            user.username, user.email, user.full_name = name, f"{name}@example.org", name
        db.session.commit()
    before = states(app)
    response = admin.post("/admin/users/bulk", confirmed, htmx=True)
    assert response.status_code == 409
    assert "it would now change 2 of 2 matching users" in response.get_data(as_text=True)
    assert states(app) == before


def test_the_confirmation_names_the_first_users_it_would_change(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"nm{i}"} for i in range(7)])
    insert_users(app, [{"username": "nm9", "active": False}])  # already disabled: not named
    form = {"action": "disable", "scope": "filter", "q": "nm"}
    dialog = admin.post("/admin/users/bulk/confirm", form, htmx=True).get_data(as_text=True)
    assert "These change: nm0, nm1, nm2, nm3, nm4 and 2 more." in dialog
    one = admin.post(
        "/admin/users/bulk/confirm", {"action": "disable", "scope": "filter", "q": "nm6"}
    ).get_data(as_text=True)
    assert "This changes: nm6." in one and "more" not in one.split("This changes")[1][:30]
