"""A patient's letters in EHRbase, read with parameterised AQL.

The patient is found through the EHR's subject (``subject_id`` = FHIR Patient id,
``subject_namespace`` = the configured namespace). Values are only ever sent as
``query_parameters``; the query text is fixed apart from which filter clauses are present.

The AQL ``WHERE`` clause is not the only guard: the patient's own EHR is resolved first (EHR by
subject; for a patient without one, any row at all is someone else's), and every row and letter
EHRbase answers with is checked against it — its EHR id, and the subject of the composition
where the composition names one. A row that is not this patient's is withheld (counted in
``LetterPage.withheld``); a letter that is not raises ``EhrbaseWrongRecord``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from console.openehr import letter_template as lt
from console.openehr.client import Ehr, EhrbaseClient, version_of
from console.openehr.errors import EhrbaseWrongRecord

VERSION_UID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}::[A-Za-z0-9._-]+::\d+$"
)

FROM_LETTERS = (
    f"FROM EHR e CONTAINS COMPOSITION c[{lt.COMPOSITION_ARCHETYPE}] "
    f"CONTAINS EVALUATION l[{lt.CONTENT_ARCHETYPE}]"
)
SUBJECT_CLAUSES = (
    "e/ehr_status/subject/external_ref/id/value = $subject_id",
    "e/ehr_status/subject/external_ref/namespace = $subject_namespace",
    "c/archetype_details/template_id/value = $template_id",
)
LIST_SELECT = (
    "SELECT c/uid/value AS uid, "
    "c/context/start_time/value AS letter_date, "
    "c/composer/name AS author, "
    f"{lt.AQL_TITLE} AS title, "
    f"{lt.AQL_STATUS} AS status_code, "
    f"{lt.AQL_RECIPIENT} AS recipient, "
    "e/ehr_id/value AS ehr_id"
)
# Dates are filtered and ordered on the DV_DATE_TIME itself, which EHRbase compares as the
# instant it names; its ``/value`` is a string, compared as text, so letters written with
# different UTC offsets (GMT and BST) would fall on the wrong day and sort out of time order.
LETTER_TIME = "c/context/start_time"
ORDER_NEWEST_FIRST = f"ORDER BY {LETTER_TIME} DESC, c/uid/value DESC"


@dataclass(frozen=True)
class LetterFilters:
    """Filters of a patient's letter list; dates are whole days, inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    author: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in lt.STATUS_CODES:
            raise ValueError(f"status must be one of {sorted(lt.STATUS_CODES)}")


@dataclass(frozen=True)
class LetterSummary:
    """One row of a patient's letter list."""

    uid: str
    ehr_id: str
    title: str
    date: datetime | None
    author: str
    status: str
    recipient: str | None


@dataclass(frozen=True)
class LetterPage:
    """One page of a patient's letters, newest first."""

    letters: list[LetterSummary]
    page: int
    page_size: int
    has_next: bool
    #: Rows EHRbase answered with that are not this patient's, left out (never shown).
    withheld: tuple[LetterSummary, ...] = ()

    @property
    def has_previous(self) -> bool:
        """True when there is a page before this one."""
        return self.page > 1


@dataclass(frozen=True)
class Letter:
    """A letter read for display, known to belong to the patient's EHR."""

    uid: str
    ehr_id: str
    title: str
    date: datetime | None
    author: str
    status: str
    recipient: str | None
    body_markdown: str
    template_id: str | None
    composition: dict[str, Any] = field(repr=False)

    @property
    def version(self) -> int:
        """The composition version that was read."""
        return version_of(self.uid)


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 date-time from EHRbase (time zone assumed UTC when absent)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_LIKE_SPECIAL = re.compile(r"([*?\\])")


def author_pattern(text: str) -> str:
    """The AQL ``LIKE`` pattern finding ``text`` anywhere in the author's name.

    AQL's ``LIKE`` matches the whole value, case-sensitively, with ``*`` and ``?`` wildcards
    (EHRbase 2). So the words are wrapped in ``*``, any ``*``, ``?`` or ``\\`` typed is escaped,
    and a word typed all in lower or upper case is matched as a name is written: its first
    letter in either case (``?``), the rest in lower case ("okafor" and "OKAFOR" find
    "Dr Chidi Okafor"). A word typed in mixed case ("McDonald") is matched as typed.
    """
    words = []
    for word in text.split():
        if word.islower() or word.isupper():
            words.append("?" + _LIKE_SPECIAL.sub(r"\\\1", word[1:].lower()))
        else:
            words.append(_LIKE_SPECIAL.sub(r"\\\1", word))
    return "*" + " ".join(words) + "*"


def letters_query(
    subject_id: str,
    namespace: str,
    template_id: str,
    filters: LetterFilters | None = None,
    *,
    tz: tzinfo = UTC,
) -> tuple[str, dict[str, Any]]:
    """The AQL listing a subject's letters newest first, and its parameters."""
    filters = filters or LetterFilters()
    clauses = list(SUBJECT_CLAUSES)
    params: dict[str, Any] = {
        "subject_id": subject_id,
        "subject_namespace": namespace,
        "template_id": template_id,
    }
    if filters.date_from is not None:
        clauses.append(f"{LETTER_TIME} >= $date_from")
        params["date_from"] = datetime.combine(filters.date_from, time.min, tz).isoformat()
    if filters.date_to is not None:
        clauses.append(f"{LETTER_TIME} < $date_to")
        params["date_to"] = datetime.combine(
            filters.date_to + timedelta(days=1), time.min, tz
        ).isoformat()
    if filters.author:
        clauses.append("c/composer/name LIKE $author")
        params["author"] = author_pattern(filters.author)
    if filters.status:
        clauses.append(f"{lt.AQL_STATUS} = $status_code")
        params["status_code"] = lt.STATUS_CODES[filters.status]
    q = f"{LIST_SELECT} {FROM_LETTERS} WHERE {' AND '.join(clauses)} {ORDER_NEWEST_FIRST}"
    return q, params


def letter_query(
    subject_id: str, namespace: str, template_id: str, version_uid: str
) -> tuple[str, dict[str, Any]]:
    """The AQL reading one letter of a subject (no row when it is not theirs)."""
    clauses = [*SUBJECT_CLAUSES, "c/uid/value = $uid"]
    q = (
        "SELECT e/ehr_id/value AS ehr_id, c/uid/value AS uid, c AS composition "  # noqa: S608 - constants only
        f"FROM EHR e CONTAINS COMPOSITION c[{lt.COMPOSITION_ARCHETYPE}] "
        f"WHERE {' AND '.join(clauses)}"
    )
    params = {
        "subject_id": subject_id,
        "subject_namespace": namespace,
        "template_id": template_id,
        "uid": version_uid,
    }
    return q, params


#: The EHR of a patient who has none: no row can be in it.
NO_EHR = Ehr(ehr_id="")


def _subjects(composition: Any) -> list[tuple[Any, Any]]:
    """Every ``(subject id, namespace)`` a composition names (``PARTY_SELF`` names none)."""
    found: list[tuple[Any, Any]] = []
    stack = [composition]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            subject = item.get("subject")
            ref = subject.get("external_ref") if isinstance(subject, dict) else None
            if isinstance(ref, dict):
                ident = ref.get("id")
                found.append(
                    (ident.get("value") if isinstance(ident, dict) else ident, ref.get("namespace"))
                )
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def belongs_to(ehr: Ehr, subject_id: str, namespace: str, ehr_id: Any, composition: Any) -> bool:
    """True when a row is in this EHR and its composition names no other subject."""
    if not ehr.ehr_id or str(ehr_id or "") != ehr.ehr_id:
        return False
    return all(
        ident == subject_id and namespace_ in (None, namespace)
        for ident, namespace_ in _subjects(composition)
    )


def list_letters(
    client: EhrbaseClient,
    *,
    subject_id: str,
    namespace: str,
    template_id: str,
    page: int = 1,
    page_size: int = 20,
    filters: LetterFilters | None = None,
    tz: tzinfo = UTC,
) -> LetterPage:
    """One page of a subject's letters (their EHR, then one AQL request fetching one extra
    row to page); rows of any other EHR are withheld."""
    page = max(1, page)
    ehr = client.ehr_of(subject_id, namespace) or NO_EHR
    q, params = letters_query(subject_id, namespace, template_id, filters, tz=tz)
    result = client.query(q, params, offset=(page - 1) * page_size, fetch=page_size + 1)
    records = result.records()
    rows = [
        LetterSummary(
            uid=str(record.get("uid") or ""),
            ehr_id=str(record.get("ehr_id") or ""),
            title=str(record.get("title") or ""),
            date=parse_datetime(record.get("letter_date")),
            author=str(record.get("author") or ""),
            status=lt.STATUS_BY_CODE.get(str(record.get("status_code") or ""), "unknown"),
            recipient=record.get("recipient") or None,
        )
        for record in records[: page_size + 1]
    ]
    own = [row for row in rows if ehr.ehr_id and row.ehr_id == ehr.ehr_id]
    return LetterPage(
        letters=own[:page_size],
        page=page,
        page_size=page_size,
        has_next=len(records) > page_size,
        withheld=tuple(row for row in rows if row not in own),
    )


def get_letter(
    client: EhrbaseClient,
    *,
    subject_id: str,
    namespace: str,
    template_id: str,
    uid: str,
) -> Letter | None:
    """The letter with this version uid if it belongs to the subject's EHR, else None.

    The subject's EHR is resolved first; a uid that is not a version uid, or that names another
    system than the EHR's node, is not asked for, nor is anything for a subject without an EHR. The AQL selects the composition only through
    the subject's EHR; should EHRbase still answer with another EHR's composition, or one whose
    subject is someone else, ``EhrbaseWrongRecord`` is raised and nothing of it is returned.
    """
    if not VERSION_UID.match(uid):
        return None
    ehr = client.ehr_of(subject_id, namespace)
    if ehr is None:  # no EHR, so no letters: nothing is asked for
        return None
    if ehr.system_id and uid.split("::")[1] != ehr.system_id:
        return None
    q, params = letter_query(subject_id, namespace, template_id, uid)
    result = client.query(q, params, fetch=2)
    records = [r for r in result.records() if r.get("uid") == uid]
    foreign = [
        r
        for r in records
        if not belongs_to(ehr, subject_id, namespace, r.get("ehr_id"), r.get("composition"))
    ]
    if foreign:
        raise EhrbaseWrongRecord(
            diagnostics=f"Asked for composition {uid} of EHR {ehr.ehr_id}; EHRbase answered with "
            f"it in EHR {str(foreign[0].get('ehr_id'))[:100]!r} or naming another subject.",
            status=200,
            method="POST",
        )
    if len(records) != 1 or not isinstance(records[0].get("composition"), dict):
        return None
    record = records[0]
    try:
        content = lt.content_from_composition(record["composition"])
    except ValueError:
        return None
    return Letter(
        uid=uid,
        ehr_id=ehr.ehr_id,
        title=content.title,
        date=parse_datetime(content.date_raw),
        author=content.author,
        status=content.status,
        recipient=content.recipient,
        body_markdown=content.body_markdown,
        template_id=content.template_id,
        composition=record["composition"],
    )


def ehr_has_letters(client: EhrbaseClient, ehr_id: str, template_id: str) -> bool:
    """True when the EHR already holds at least one letter of this template."""
    result = client.query(
        f"SELECT c/uid/value AS uid FROM EHR e CONTAINS COMPOSITION c[{lt.COMPOSITION_ARCHETYPE}] "  # noqa: S608
        "WHERE e/ehr_id/value = $ehr_id AND c/archetype_details/template_id/value = $template_id",
        {"ehr_id": ehr_id, "template_id": template_id},
        fetch=1,
    )
    return bool(result.rows)
