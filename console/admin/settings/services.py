"""The settings page: typed values from the catalogue, validated, saved and reverted, audited.

A save changes only the settings whose value differs from what is stored; each change is an
audit event with the value before and after, all in one transaction. A setting someone else
changed after the page was opened is not overwritten: the field reports the conflict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from console.admin.services import FieldErrors, NotFound, transaction
from console.appsettings import (
    AREAS,
    CATALOGUE,
    SettingDefinition,
    forget_cached_settings,
    revert_setting,
    store_setting,
)
from console.audit import record_event
from console.auth.stepup import require_fresh
from console.db import db
from console.db.models import AppSetting, User

ORIGINAL_PREFIX = "original:"
# (smaller setting, larger setting): the first may not exceed the second.
ORDERED_PAIRS = (
    ("security.password_min_length", "security.password_max_length"),
    ("security.lockout_wait_increment_seconds", "security.lockout_max_wait_seconds"),
)


def to_text(definition: SettingDefinition, value: Any) -> str:
    """A typed value as the form shows it."""
    if definition.type is bool:
        return "true" if value else "false"
    if definition.type is float:
        return format(float(value), "g")
    return str(value)


@dataclass
class SettingRow:
    """One setting on the page."""

    definition: SettingDefinition
    value: Any
    text: str
    is_default: bool
    updated_by: str | None = None
    updated_at: datetime | None = None
    error: str | None = None

    @property
    def kind(self) -> str:
        """``bool``, ``int``, ``float`` or ``str``: which input the page shows."""
        return self.definition.type.__name__

    @property
    def default_text(self) -> str:
        return to_text(self.definition, self.definition.default)

    @property
    def field_id(self) -> str:
        return "setting-" + self.definition.key.replace(".", "-").replace("_", "-")

    @property
    def seconds_per_unit(self) -> int | None:
        """For a whole-number duration (its key ends in its unit), seconds in one unit: the page
        reads the stored number out in hours and minutes as well."""
        if self.definition.type is not int:
            return None
        return next(
            (n for suffix, n in DURATION_UNITS.items() if self.definition.key.endswith(suffix)),
            None,
        )


# Durations are stored as whole numbers in the unit their key ends with.
DURATION_UNITS = {"_seconds": 1, "_minutes": 60, "_hours": 3600}


@dataclass
class SettingsArea:
    """The settings of one area (security, clinical services, display)."""

    key: str
    label: str
    rows: list[SettingRow]


@dataclass
class _Stored:
    value: Any
    row: AppSetting
    updated_by: str | None


def _stored() -> dict[str, _Stored]:
    rows = db.session.execute(
        select(AppSetting, User.username).outerjoin(User, User.id == AppSetting.updated_by_id)
    )
    return {
        setting.key: _Stored(json.loads(setting.value), setting, username)
        for setting, username in rows
        if setting.key in CATALOGUE
    }


def current_values() -> dict[str, Any]:
    """Every setting's typed value now (stored or default)."""
    stored = _stored()
    return {
        key: stored[key].value if key in stored else definition.default
        for key, definition in CATALOGUE.items()
    }


def settings_areas(
    texts: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> list[SettingsArea]:
    """The page: every setting grouped by area; ``texts``/``errors`` re-show a refused form."""
    stored = _stored()
    areas = {key: SettingsArea(key, label, []) for key, label in AREAS.items()}
    for key, definition in CATALOGUE.items():
        found = stored.get(key)
        value = found.value if found else definition.default
        text = to_text(definition, value)
        if texts is not None and key in texts:
            text = texts[key]
        areas.setdefault(definition.area, SettingsArea(definition.area, definition.area, []))
        areas[definition.area].rows.append(
            SettingRow(
                definition=definition,
                value=value,
                text=text,
                is_default=found is None,
                updated_by=found.updated_by if found else None,
                updated_at=found.row.updated_at if found else None,
                error=(errors or {}).get(key),
            )
        )
    return [area for area in areas.values() if area.rows]


def _parse_all(submitted: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, definition in CATALOGUE.items():
        if key not in submitted:
            continue
        try:
            parsed[key] = definition.parse(submitted[key])
        except ValueError as exc:
            errors[key] = str(exc)
    return parsed, errors


def _order_problems(
    current: Mapping[str, Any], changed: Mapping[str, Any], errors: Mapping[str, str]
) -> dict[str, str]:
    """Pairs of settings that would end up the wrong way round, blamed on the changed one."""
    merged = dict(current) | dict(changed)
    problems: dict[str, str] = {}
    for smaller, larger in ORDERED_PAIRS:
        if smaller in errors or larger in errors or merged[smaller] <= merged[larger]:
            continue
        moved_smaller = smaller in changed and changed[smaller] != current[smaller]
        problems[smaller if moved_smaller else larger] = (
            f"“{CATALOGUE[smaller].label}” cannot be more than “{CATALOGUE[larger].label}” "
            f"({merged[smaller]:g} is more than {merged[larger]:g})."
        )
    return problems


def save_settings(submitted: Mapping[str, str], actor_id: int | None) -> list[str]:
    """Validate and store every changed setting; the keys changed (empty when none).

    ``submitted`` holds ``key → text`` and ``original:key → text`` (the value the page showed).
    Raises ``FieldErrors`` keyed by setting key; nothing is stored then.
    """
    with transaction():
        current = current_values()
        parsed, errors = _parse_all(submitted)
        for key, message in _order_problems(current, parsed, errors).items():
            errors.setdefault(key, message)
        changed = [key for key, value in parsed.items() if value != current[key]]
        for key in changed:
            original_text = submitted.get(ORIGINAL_PREFIX + key)
            if key in errors:
                continue
            if original_text is None:  # the value the page showed is mandatory
                errors[key] = (
                    "This change did not say what value the page showed, so it could undo "
                    "someone else's. Reload the page and save again."
                )
                continue
            try:
                stale = CATALOGUE[key].parse(original_text) != current[key]
            except ValueError:
                stale = True
            if stale:
                errors[key] = (
                    "Someone else changed this to "
                    f"“{to_text(CATALOGUE[key], current[key])}” after you opened the page. "
                    "Check the value and save again."
                )
        if errors:
            raise FieldErrors(errors)
        if any(CATALOGUE[key].area == "security" for key in changed):
            require_fresh()
        for key in changed:
            definition = CATALOGUE[key]
            if parsed[key] == definition.default:
                revert_setting(key)
            else:
                store_setting(key, parsed[key], actor_id)
            db.session.flush()
            record_event(
                "setting.update",
                target_type="setting",
                target_id=key,
                before={key: current[key]},
                after={key: parsed[key]},
            )
        forget_cached_settings()
        return changed


def revert_to_default(key: str) -> bool:
    """Return one setting to its default; False when it already had it."""
    definition = CATALOGUE.get(key)
    if definition is None:
        raise NotFound("There is no such setting.")
    with transaction():
        row = db.session.get(AppSetting, key)
        if row is None:
            return False
        if definition.area == "security":
            require_fresh()
        before = json.loads(row.value)
        problem = _order_problems(current_values(), {key: definition.default}, {})
        if problem:
            raise FieldErrors({key: next(iter(problem.values()))})
        revert_setting(key)
        db.session.flush()
        record_event(
            "setting.revert",
            target_type="setting",
            target_id=key,
            before={key: before},
            after={key: definition.default},
        )
        forget_cached_settings()
        return True
