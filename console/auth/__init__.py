"""Sign-in, sign-out, sessions, password changes, two-factor and lockout.

What the rest of the console may call (each records its audit event in the caller's
transaction unless it says it commits):

- ``console.auth.sessions``: ``list_sessions(user_id=None)``, ``end_session(session_id,
  user_id=None)``, ``end_user_sessions(user_id, keep_session_id=None)``,
  ``end_sessions_of_users(user_ids)``, ``current_session_id()``, ``purge_expired_sessions()``,
  ``add_housekeeping(app, label, purge)`` (another table's expired rows purged alongside).
  Ending a session deletes its row: the cookie is dead on its next request.
- ``flask sessions purge-expired``: remove every expired session row, and those of the
  ``add_housekeeping`` tables (the console also removes them in small batches, at most every
  few minutes, as new sessions start).
- ``console.auth.lockout.unlock(user)``: clear a lockout, audited (clearing
  ``failed_login_count``/``locked_until`` directly works too).
- ``console.auth.totp.reset(user)``: turn two-factor off and delete recovery codes, audited.
- ``console.auth.password_policy.password_problems(password, username=, email=)``.
- ``console.auth.clock.now()``: the time every check here uses (tests replace it).

A user's stored state is the truth on every request: a disabled user, or one whose password
hash changed (an administrator's reset), loses every live session on its next request; setting
``must_change_password`` or ``must_enrol_totp`` takes effect on the next request too.
"""

from flask import Blueprint

from console.auth.setup import init_app

bp = Blueprint("auth", __name__, url_prefix="/auth")

__all__ = ["bp", "init_app"]

from console.auth import views  # noqa: E402,F401  (the views register themselves on bp)
