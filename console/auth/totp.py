"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

Codes are accepted one time step either side of now (phone clocks drift) and only once: the
step of the last accepted code is stored, and a code from that step or an earlier one is
refused, so a code seen over someone's shoulder cannot be replayed. The compare-and-set of
``totp_last_used_step`` is a single conditional ``UPDATE``, so two requests racing with the same
code cannot both win.

Recovery codes are 80-bit random values, shown once and stored as SHA-256 hashes. They are
high-entropy like session tokens, so a fast hash is enough and lets a code be found with one
indexed query instead of an argon2 check per stored code.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update

from console.audit import record_event
from console.auth import clock
from console.db import db
from console.db.models import RecoveryCode, User

ISSUER = "Quill Console"
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 16


def new_secret() -> str:
    """A new random base32 secret (160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> bytes:
    """The QR code of ``uri`` as a standalone SVG document."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False,
        title="QR code for your authenticator app",
    )  # fmt: skip
    return buffer.getvalue()


def grouped(secret: str) -> str:
    """The secret in groups of four for typing by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean_code(code: str) -> str:
    return "".join(code.split())


def matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step whose code equals ``code`` (within the allowed drift), or None."""
    code = _clean_code(code)
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or clock.now())
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def accept_code(user: User, code: str) -> bool:
    """True when ``code`` is a valid code of the user's app not used before (it is then used up)."""
    if not user.totp_enabled or not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code)
    if step is None:
        return False
    claimed = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_used_step.is_(None), User.totp_last_used_step < step),
        )
        .values(totp_last_used_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return claimed.rowcount == 1


def enable(user: User, secret: str, code: str) -> list[str] | None:
    """Turn two-factor on with ``secret`` when ``code`` proves the app has it; returns the new
    recovery codes (to show once), or None when the code is wrong. Audited; the caller commits."""
    step = matching_step(secret, code)
    if step is None:
        return None
    replacing = user.totp_enabled
    user.totp_secret = secret
    user.totp_enabled = True
    user.totp_last_used_step = step
    user.must_enrol_totp = False
    codes = replace_recovery_codes(user)
    record_event(
        "auth.totp_enrol",
        target_type="user",
        target_id=user.id,
        details={"replaced_previous": replacing},
    )
    return codes


def reset(user: User) -> None:
    """Turn two-factor off and delete the recovery codes (an administrator's action), audited;
    the caller commits. Clearing the fields and rows directly has the same effect."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_used_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_event("auth.totp_reset", target_type="user", target_id=user.id)


def _hash_recovery_code(code: str) -> str:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(b"recovery:" + normalised.encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def replace_recovery_codes(user: User) -> list[str]:
    """Delete the user's recovery codes and make ten new ones; returns them (shown only once)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    now = clock.now()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_hash_recovery_code(c), created_at=now)
        for c in codes
    )
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """True when ``code`` is one of the user's unused recovery codes; it is then used up."""
    if not user.totp_enabled or len(code) > 64:
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        return False
    record_event(
        "auth.recovery_code_used",
        target_type="user",
        target_id=user.id,
        actor=user,
        details={"remaining": remaining_recovery_codes(user)},
    )
    return True


def remaining_recovery_codes(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
