"""The password policy (NIST SP 800-63B / OWASP ASVS 2.1): length, not common, not personal.

Lengths come from settings (12 to 128 by default). Passwords on the list of the 20,000 most
common ones (``console/data/common-passwords.txt``, see the licence file beside it) are refused,
compared case-insensitively, as are passwords that contain the username or the local part of the
e-mail address. There are no composition rules (no "one digit, one capital").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from console.appsettings import get_setting

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
MIN_PERSONAL_PART = 3


@cache
def common_passwords() -> frozenset[str]:
    """The list of common passwords, lower-case (read once per process)."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def is_common(password: str) -> bool:
    """True when ``password`` (whatever its case, trimmed) is a well-known password, or just one
    character repeated (``aaaaaaaaaaaa``)."""
    lowered = password.strip().lower()
    return lowered in common_passwords() or len(set(lowered)) <= 1


def password_problems(
    password: str,
    *,
    username: str = "",
    email: str = "",
    min_length: int | None = None,
    max_length: int | None = None,
) -> list[str]:
    """Every reason ``password`` is refused, as sentences for the form (empty when it is fine)."""
    min_length = (
        min_length if min_length is not None else get_setting("security.password_min_length")
    )
    max_length = (
        max_length if max_length is not None else get_setting("security.password_max_length")
    )
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"Password must be at least {min_length} characters long.")
    if len(password) > max_length:
        problems.append(f"Password must be at most {max_length} characters long.")
    if is_common(password):
        problems.append("Password is too common: it is on a list of passwords attackers try first.")
    lowered = password.lower()
    username = username.strip().lower()
    if len(username) >= MIN_PERSONAL_PART and username in lowered:
        problems.append("Password must not contain your username.")
    local_part = email.strip().split("@", 1)[0].lower()
    if len(local_part) >= MIN_PERSONAL_PART and local_part in lowered:
        problems.append("Password must not contain your e-mail address.")
    return problems
