"""The console's letter template (``Quill Letter.v1``): where it lives and how letters map to it.

A letter is a COMPOSITION ``openEHR-EHR-COMPOSITION.quill_letter.v1``: its date is
``context/start_time`` and its author the ``composer``. One EVALUATION
``openEHR-EHR-EVALUATION.quill_letter_content.v1`` holds the title (at0002), the Markdown body
(at0003), the status (at0004, local codes at0005 draft / at0006 final / at0007 amended) and
the recipient (at0008).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

TEMPLATE_ID = "Quill Letter.v1"
TEMPLATE_FILE = "quill_letter.v1.opt"
COMPOSITION_ARCHETYPE = "openEHR-EHR-COMPOSITION.quill_letter.v1"
CONTENT_ARCHETYPE = "openEHR-EHR-EVALUATION.quill_letter_content.v1"

TITLE = "at0002"
BODY = "at0003"
STATUS = "at0004"
RECIPIENT = "at0008"
STATUS_CODES: dict[str, str] = {"draft": "at0005", "final": "at0006", "amended": "at0007"}
STATUS_BY_CODE: dict[str, str] = {code: name for name, code in STATUS_CODES.items()}
STATUS_TEXT: dict[str, str] = {"draft": "Draft", "final": "Final", "amended": "Amended"}

# FLAT (simSDT) paths: the web template's tree ids are the snake_case names of the nodes.
FLAT_ROOT = "clinical_letter"
FLAT_CONTENT = f"{FLAT_ROOT}/letter"

# AQL paths relative to the variables ``c`` (COMPOSITION) and ``l`` (the letter EVALUATION).
AQL_TITLE = f"l/data[at0001]/items[{TITLE}]/value/value"
AQL_BODY = f"l/data[at0001]/items[{BODY}]/value/value"
AQL_STATUS = f"l/data[at0001]/items[{STATUS}]/value/defining_code/code_string"
AQL_RECIPIENT = f"l/data[at0001]/items[{RECIPIENT}]/value/value"


def shipped_templates() -> dict[str, bytes]:
    """The OPT files shipped with the console, by file name."""
    folder = resources.files("console.openehr") / "templates"
    return {
        item.name: item.read_bytes()
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".opt")
    }


def letter_opt() -> bytes:
    """The letter template's OPT XML."""
    return (resources.files("console.openehr") / "templates" / TEMPLATE_FILE).read_bytes()


@dataclass(frozen=True)
class LetterInput:
    """A letter to be written to EHRbase."""

    title: str
    body_markdown: str
    status: str
    author: str
    date: datetime
    recipient: str | None = None
    facility: str | None = None


def letter_to_flat(
    letter: LetterInput, *, language: str = "en", territory: str = "GB"
) -> dict[str, Any]:
    """The FLAT composition EHRbase accepts with ``templateId=Quill Letter.v1&format=FLAT``."""
    if letter.status not in STATUS_CODES:
        raise ValueError(f"status must be one of {sorted(STATUS_CODES)}")
    if letter.date.tzinfo is None:
        raise ValueError("the letter date must carry a time zone")
    flat: dict[str, Any] = {
        "ctx/language": language,
        "ctx/territory": territory,
        "ctx/composer_name": letter.author,
        "ctx/time": letter.date.isoformat(),
        f"{FLAT_CONTENT}/title": letter.title,
        f"{FLAT_CONTENT}/body": letter.body_markdown,
        f"{FLAT_CONTENT}/status|code": STATUS_CODES[letter.status],
        f"{FLAT_CONTENT}/status|value": STATUS_TEXT[letter.status],
        f"{FLAT_CONTENT}/status|terminology": "local",
    }
    if letter.facility:
        flat["ctx/health_care_facility|name"] = letter.facility
    if letter.recipient:
        flat[f"{FLAT_CONTENT}/recipient"] = letter.recipient
    return flat


@dataclass(frozen=True)
class LetterContent:
    """The letter fields read from a canonical COMPOSITION."""

    title: str
    body_markdown: str
    status: str
    recipient: str | None
    author: str
    date_raw: str
    template_id: str | None


def _element_value(items: list[Any], node_id: str) -> dict[str, Any] | None:
    for item in items:
        if isinstance(item, dict) and item.get("archetype_node_id") == node_id:
            value = item.get("value")
            return value if isinstance(value, dict) else None
    return None


def content_from_composition(composition: dict[str, Any]) -> LetterContent:
    """Read a letter from canonical COMPOSITION JSON; raises ``ValueError`` when it is not one."""
    if (
        not isinstance(composition, dict)
        or composition.get("_type", "COMPOSITION") != "COMPOSITION"
    ):
        raise ValueError("not a COMPOSITION")
    entry = next(
        (
            item
            for item in composition.get("content") or []
            if isinstance(item, dict) and item.get("archetype_node_id") == CONTENT_ARCHETYPE
        ),
        None,
    )
    if entry is None:
        raise ValueError(f"the composition holds no {CONTENT_ARCHETYPE} entry")
    items = (entry.get("data") or {}).get("items") or []
    title = _element_value(items, TITLE) or {}
    body = _element_value(items, BODY) or {}
    status = _element_value(items, STATUS) or {}
    recipient = _element_value(items, RECIPIENT)
    code = ((status.get("defining_code") or {}).get("code_string")) or ""
    composer = composition.get("composer") or {}
    context = composition.get("context") or {}
    archetype_details = composition.get("archetype_details") or {}
    return LetterContent(
        title=str(title.get("value") or ""),
        body_markdown=str(body.get("value") or ""),
        status=STATUS_BY_CODE.get(code, "unknown"),
        recipient=str(recipient["value"]) if recipient and recipient.get("value") else None,
        author=str(composer.get("name") or ""),
        date_raw=str((context.get("start_time") or {}).get("value") or ""),
        template_id=(archetype_details.get("template_id") or {}).get("value"),
    )
