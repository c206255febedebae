"""The mapping from values of the identity provider's roles claim to console roles.

Written on the settings page as ``value = Role, Role; other value = Role``: entries are
separated by semicolons, the claim value comes before the last ``=``, role names by commas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from console.db import db
from console.db.models import Role


def parse_role_mapping(text: str) -> dict[str, tuple[str, ...]]:
    """``{claim value: (role name, ...)}``; raises ``ValueError`` naming the bad entry."""
    mapping: dict[str, tuple[str, ...]] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        value, equals, roles_text = entry.rpartition("=")
        value = value.strip()
        roles = tuple(name.strip() for name in roles_text.split(",") if name.strip())
        if not equals or not value or not roles:
            raise ValueError(f"“{entry}” is not of the form “claim value = Role, Role”.")
        if value in mapping:
            raise ValueError(f"The claim value “{value}” appears twice.")
        mapping[value] = roles
    return mapping


def check_role_mapping(text: str) -> None:
    """Raise ``ValueError`` when the mapping is malformed or names a role that does not exist."""
    mapping = parse_role_mapping(text)
    wanted = {name for roles in mapping.values() for name in roles}
    if not wanted:
        return
    known = set(db.session.scalars(select(Role.name).where(Role.name.in_(wanted))))
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"There is no role called {', '.join(f'“{n}”' for n in unknown)}.")


def claim_values(claims: Mapping[str, Any], claim_path: str) -> list[str]:
    """The string values at ``claim_path``: dotted for nested objects, going through lists of
    objects too (NHS CIS2's ``nhsid_nrbac_roles.role_code``); a lone string counts. A claim
    literally named with dots (as URL-style claims are) wins over the nested reading.
    """
    found: list[Any] = [claims[claim_path]] if claim_path in claims else [claims]
    if claim_path not in claims:
        for part in claim_path.split("."):
            found = [item.get(part) for item in _flatten(found) if isinstance(item, Mapping)]
    return [item for item in _flatten(found) if isinstance(item, str)]


def _flatten(items: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def mapped_roles(
    values: Iterable[str], mapping: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    """``{role name: [claim values granting it]}`` for the user's claim values."""
    granted: dict[str, list[str]] = {}
    for value in values:
        for role in mapping.get(value, ()):
            granted.setdefault(role, []).append(value)
    return granted
