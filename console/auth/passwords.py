"""Password hashing with argon2id (OWASP parameters) and transparent re-hashing."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
DEFAULT_TIME_COST = 2
DEFAULT_MEMORY_COST_KIB = 19 * 1024
DEFAULT_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=DEFAULT_TIME_COST,
    memory_cost=DEFAULT_MEMORY_COST_KIB,
    parallelism=DEFAULT_PARALLELISM,
    type=Type.ID,
)
# Verified against when the username does not exist, so sign-in takes the same time either way.
_DUMMY_HASH = _hasher.hash("not a real password: equalises sign-in timing")


def configure(time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
    """Change the hashing parameters; existing hashes are re-hashed at next sign-in."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=Type.ID
    )
    _DUMMY_HASH = _hasher.hash("not a real password: equalises sign-in timing")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash costs the same time as a real check."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
