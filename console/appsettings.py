"""Typed application settings: a catalogue in code, values changed from the settings page.

A setting not stored in the ``app_settings`` table has its default. ``get_setting(key)``
returns the typed value; ``CATALOGUE[key].parse(text)`` turns form input into that value (or
raises ``ValueError`` with the message for the field); ``store_setting`` and
``revert_setting`` change what is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context

from console.db import db
from console.db.models import AppSetting

# Plain decimal numbers in ASCII digits: Python's own parsing would also take "nan", "1_000"
# and digits of other scripts, none of which an administrator means by a timeout.
_WHOLE = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: EHRbase 2.x refuses any subject namespace not matching this (no dots).
EHRBASE_NAMESPACE = r"[a-zA-Z][a-zA-Z0-9\-_:/&+?]*"


@dataclass(frozen=True)
class SettingDefinition:
    """One setting: its type, default, bounds and help text."""

    key: str
    area: str
    label: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 200
    required: bool = False
    check: Callable[[str], None] | None = None
    """Further validation of a text value (raises ``ValueError`` with the field's message):
    ``matching(pattern, message)`` for a regular expression."""

    def parse(self, text: str) -> Any:
        """The typed value of ``text``; raises ``ValueError`` with a message for the field."""
        text = text.strip()
        if self.type is bool:
            if text.lower() in ("1", "true", "on", "yes"):
                return True
            if text.lower() in ("", "0", "false", "off", "no"):
                return False
            raise ValueError("Choose yes or no.")
        if self.type in (int, float):
            if not (_WHOLE if self.type is int else _NUMBER).fullmatch(text):
                raise ValueError("Enter a whole number." if self.type is int else "Enter a number.")
            value = self.type(text)
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"Enter a number of at least {self.minimum:g}.")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"Enter a number of at most {self.maximum:g}.")
            return value
        if len(text) > self.max_length:
            raise ValueError(f"Enter at most {self.max_length} characters.")
        if _CONTROL.search(text):
            raise ValueError("Remove the control characters (such as tabs or line breaks).")
        if self.required and not text:
            raise ValueError(f"Enter a value, or revert to the default ({self.default}).")
        if self.check is not None:
            self.check(text)
        return text


def matching(pattern: str, message: str) -> Callable[[str], None]:
    """A check that a non-empty text matches the whole of ``pattern`` (else ``message``)."""

    def check(text: str) -> None:
        if text and not re.fullmatch(pattern, text):
            raise ValueError(message)

    return check


def _check_role_mapping(text: str) -> None:
    from console.sso.mapping import check_role_mapping

    check_role_mapping(text)


def _define(*items: SettingDefinition) -> dict[str, SettingDefinition]:
    return {item.key: item for item in items}


CATALOGUE: dict[str, SettingDefinition] = _define(
    SettingDefinition("security.password_min_length", "security", "Minimum password length", int, 12,
                      "Passwords shorter than this are refused.", 8, 128),
    SettingDefinition("security.password_max_length", "security", "Maximum password length", int, 128,
                      "Passwords longer than this are refused.", 64, 1024),
    SettingDefinition("security.lockout_failures", "security", "Failures before lockout", int, 5,
                      "Wrong passwords or codes in a row before the account is locked for a while. At most 10 "
                      "(OWASP ASVS 5.0 V6.3.1; NIST SP 800-63B §5.2.2 limits failed attempts).", 1, 10),
    SettingDefinition("security.lockout_wait_increment_seconds", "security", "Lockout wait increment (seconds)", int, 60,
                      "How long the first lockout lasts; each further lockout adds this again. At least a minute "
                      "(OWASP ASVS 5.0 V6.3.1; NIST SP 800-63B §5.2.2).", 60, 86400),
    SettingDefinition("security.lockout_max_wait_seconds", "security", "Longest lockout (seconds)", int, 900,
                      "A lockout never lasts longer than this. At least a minute.", 60, 604800),
    SettingDefinition("security.lockout_failure_reset_seconds", "security", "Forget failures after (seconds)", int, 43200,
                      "Failures older than this no longer count towards a lockout.", 60, 604800),
    SettingDefinition("security.idle_timeout_minutes", "security", "Idle timeout (minutes)", int, 15,
                      "A session unused for this long ends.", 1, 1440),
    SettingDefinition("security.absolute_timeout_hours", "security", "Absolute session timeout (hours)", int, 12,
                      "A session ends this long after sign-in, however busy. At most 24 hours "
                      "(OWASP ASVS 5.0 V7.3.2; NIST SP 800-63B §7.2 asks for re-authentication within 12 hours at AAL2).", 1, 24),
    SettingDefinition("security.require_totp_for_admins", "security", "Require two-factor for administrators", bool, True,
                      "Holders of administrative permissions (users, roles, settings, sessions, audit, templates) "
                      "must enrol an authenticator app at next sign-in. On by default (ASVS 5.0 V6.3.3)."),
    SettingDefinition("security.temporary_password_minutes", "security", "Temporary passwords expire after (minutes)", int, 4320,
                      "A temporary password set by an administrator stops working this long after it was set (default 72 hours); "
                      "the user then asks for a new one.", 1, 43200),
    SettingDefinition("security.step_up_minutes", "security", "Re-authentication lasts (minutes)", int, 5,
                      "After confirming their password (and code), a user may change their password or two-factor, "
                      "grant administrative roles or change security settings for this long without being asked again.", 1, 60),
    SettingDefinition("clinical.fhir_page_size", "clinical", "Patients per results page", int, 20,
                      "How many patients one page of search results shows.", 5, 100),
    SettingDefinition("clinical.fhir_connect_timeout_seconds", "clinical", "HAPI FHIR connect timeout (seconds)", float, 3.05,
                      "How long to wait for a connection to HAPI FHIR.", 0.1, 30),
    SettingDefinition("clinical.fhir_read_timeout_seconds", "clinical", "HAPI FHIR read timeout (seconds)", float, 10.0,
                      "How long to wait for HAPI FHIR to answer.", 0.5, 120),
    SettingDefinition("clinical.ehrbase_connect_timeout_seconds", "clinical", "EHRbase connect timeout (seconds)", float, 3.05,
                      "How long to wait for a connection to EHRbase.", 0.1, 30),
    SettingDefinition("clinical.ehrbase_read_timeout_seconds", "clinical", "EHRbase read timeout (seconds)", float, 10.0,
                      "How long to wait for EHRbase to answer (letter lists, letters).", 0.5, 120),
    SettingDefinition("clinical.fhir_deadline_seconds", "clinical", "HAPI FHIR overall deadline (seconds)", float, 30.0,
                      "The longest one call to HAPI FHIR may take in all: connecting, every read, retries and waits.", 0.5, 300),
    SettingDefinition("clinical.fhir_max_response_mb", "clinical", "HAPI FHIR largest answer (MB)", float, 10.0,
                      "An answer from HAPI FHIR larger than this is refused as too much.", 0.1, 500),
    SettingDefinition("clinical.ehrbase_deadline_seconds", "clinical", "EHRbase overall deadline (seconds)", float, 30.0,
                      "The longest one call to EHRbase may take in all: connecting, every read, retries and waits.", 0.5, 300),
    SettingDefinition("clinical.ehrbase_max_response_mb", "clinical", "EHRbase largest answer (MB)", float, 10.0,
                      "An answer from EHRbase larger than this is refused as too much.", 0.1, 500),
    SettingDefinition("clinical.ehr_subject_namespace", "clinical", "EHR subject namespace", str, "fhir",
                      "The namespace linking an EHR in EHRbase to a FHIR Patient id.", max_length=100, required=True,
                      check=matching(EHRBASE_NAMESPACE, "Start with a letter, then use only letters, digits "
                                     "and - _ : / & + ? (EHRbase refuses any other namespace, dots included).")),
    SettingDefinition("clinical.letter_template_id", "clinical", "Letter template id", str, "Quill Letter.v1",
                      "The openEHR template that letters are stored with.", max_length=200, required=True),
    SettingDefinition("clinical.letters_page_size", "clinical", "Letters per page", int, 20,
                      "How many letters one page of a patient's letters shows.", 5, 100),
    SettingDefinition("display.environment_banner", "display", "Environment banner", str, "",
                      'Text shown at the top of every page, e.g. "TRAINING". Leave empty for none.', max_length=40),
    SettingDefinition("sso.button_label", "sso", "Sign-in button label", str, "Sign in with your organisation account",
                      "The text of the single sign-on button on the sign-in page.", max_length=80, required=True),
    SettingDefinition("sso.roles_claim", "sso", "Roles claim", str, "groups",
                      'The ID token claim holding the user\'s groups or roles; a dotted path reaches inside an object, e.g. "realm_access.roles".',
                      max_length=100, required=True),
    SettingDefinition("sso.role_mapping", "sso", "Role mapping", str, "",
                      'Claim values and the console roles they grant: "value = Role, Role; other value = Role". Roles granted this way are re-applied at every sign-in.',
                      max_length=2000, check=_check_role_mapping),
    SettingDefinition("sso.create_unknown_users", "sso", "Create unknown users at first sign-in", bool, False,
                      "When off, someone the console does not know is asked to contact an administrator."),
    SettingDefinition("sso.allow_local_password", "sso", "Single sign-on users may also use a password", bool, False,
                      "When off, a user linked to the identity provider cannot sign in with a console password."),
    SettingDefinition("sso.idp_mfa_satisfies_two_factor", "sso", "Identity provider's MFA counts as two-factor", bool, False,
                      "When on, a sign-in the identity provider reports as multi-factor (amr/acr) skips the console's own code."),
)  # fmt: skip

AREAS = {
    "security": "Security",
    "sso": "Single sign-on",
    "clinical": "Clinical services",
    "display": "Display",
}


def _stored_values() -> dict[str, AppSetting]:
    if has_request_context() and "app_settings" in g:
        return g.app_settings
    rows = {row.key: row for row in db.session.scalars(db.select(AppSetting))}
    if has_request_context():
        g.app_settings = rows
    return rows


def get_setting(key: str) -> Any:
    """The typed value of a setting (its default when never changed)."""
    definition = CATALOGUE[key]
    row = _stored_values().get(key)
    if row is None:
        return definition.default
    return json.loads(row.value)


def is_default(key: str) -> bool:
    """True when the setting has never been changed (or was reverted)."""
    return key not in _stored_values()


def store_setting(key: str, value: Any, updated_by_id: int | None) -> AppSetting:
    """Stage a typed value in the current transaction (the caller audits and commits)."""
    definition = CATALOGUE[key]
    row = db.session.get(AppSetting, key)
    if row is None:
        row = AppSetting(key=key, type=definition.type.__name__)
        db.session.add(row)
    row.value = json.dumps(value)
    row.updated_by_id = updated_by_id
    forget_cached_settings()
    return row


def revert_setting(key: str) -> None:
    """Return a setting to its default (the caller audits and commits)."""
    row = db.session.get(AppSetting, key)
    if row is not None:
        db.session.delete(row)
    forget_cached_settings()


def forget_cached_settings() -> None:
    """Drop this request's cached values after a change."""
    if has_request_context():
        g.pop("app_settings", None)
