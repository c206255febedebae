"""The EHRbase client against the emulator and (marked ``live``) a real EHRbase 2.x.

Each test uses its own subject ids, so the live run can share a server with other data.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from console.openehr import errors
from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from console.openehr.letters import LetterFilters, get_letter, list_letters
from tests.support.openehr import Target


def subject() -> str:
    return f"test-{uuid.uuid4()}"


def letter(
    n: int, *, status: str = "final", author: str = "Dr Priya Raman", day: int | None = None
) -> lt.LetterInput:
    return lt.LetterInput(
        title=f"Clinic letter {n}",
        body_markdown=f"# Letter {n}\n\nSeen in clinic.",
        status=status,
        author=author,
        date=datetime(2025, 1, 1, 9, 30, tzinfo=UTC)
        + timedelta(days=day if day is not None else n),
        recipient="Dr Alan Fraser, Millbrook Surgery",
    )


def with_template(target: Target) -> EhrbaseClient:
    client = target.client()
    if not any(t.template_id == lt.TEMPLATE_ID for t in client.list_templates()):
        if target.admin_user is None:
            pytest.skip("EHRBASE_API_ADMIN_USER is not set: cannot upload the letter template")
        client.ensure_template(lt.letter_opt())
    return client


def store_letters(
    client: EhrbaseClient, subject_id: str, letters: list[lt.LetterInput]
) -> list[str]:
    ehr, _ = client.ensure_ehr(subject_id, "fhir")
    return [
        client.create_composition(ehr.ehr_id, lt.TEMPLATE_ID, lt.letter_to_flat(item)).version_uid
        for item in letters
    ]


def test_status_reports_the_version(target: Target) -> None:
    status = target.client().status()
    assert status.ehrbase_version.startswith("2.")


def test_wrong_credentials_are_refused(target: Target) -> None:
    client = target.client(password="not-the-password")
    with pytest.raises(errors.EhrbaseUnauthorised) as caught:
        client.status()
    assert caught.value.status == 401
    assert "credentials" in caught.value.message


def test_letter_template_uploads_once_then_reports_already_exists(target: Target) -> None:
    if target.admin_user is None:
        pytest.skip("EHRBASE_API_ADMIN_USER is not set")
    client = target.client()
    first = client.ensure_template(lt.letter_opt())
    assert first.template_id == lt.TEMPLATE_ID
    with pytest.raises(errors.TemplateAlreadyExists) as caught:
        client.upload_template(lt.letter_opt())
    assert caught.value.status == 409
    assert caught.value.template_id == lt.TEMPLATE_ID
    assert "already" in caught.value.message
    assert caught.value.diagnostics  # the server's own words
    listed = {t.template_id: t for t in client.list_templates()}
    assert listed[lt.TEMPLATE_ID].archetype_id == lt.COMPOSITION_ARCHETYPE


def test_template_example_follows_the_letter_template(target: Target) -> None:
    client = with_template(target)
    example = client.template_example(lt.TEMPLATE_ID)
    assert f"{lt.FLAT_CONTENT}/title" in example
    assert f"{lt.FLAT_CONTENT}/body" in example


def test_the_web_template_and_the_opt_come_back_for_the_letter_template(
    target: Target,
) -> None:
    client = with_template(target)
    web = client.get_web_template(lt.TEMPLATE_ID)
    assert web["templateId"] == lt.TEMPLATE_ID
    assert web["tree"]["id"] == lt.FLAT_ROOT  # the FLAT paths the console writes start here
    opt = client.get_template_opt(lt.TEMPLATE_ID)
    assert f"<value>{lt.TEMPLATE_ID}</value>" in opt
    with pytest.raises(errors.EhrbaseNotFound) as caught:
        client.get_web_template(f"No such template {uuid.uuid4().hex[:8]}.v1")
    assert caught.value.status == 404 and caught.value.diagnostics


def test_a_subject_without_an_ehr_is_not_an_error(target: Target) -> None:
    assert target.client().find_ehr(subject(), "fhir") is None


def test_ehr_creation_returns_the_ehr_and_a_second_attempt_reads_it(target: Target) -> None:
    client = target.client()
    subject_id = subject()
    created = client.create_ehr(subject_id, "fhir")
    assert created.ehr_id
    again = client.create_ehr(subject_id, "fhir")  # 409 from the server, then re-read
    assert again.ehr_id == created.ehr_id
    found = client.find_ehr(subject_id, "fhir")
    assert found is not None and found.ehr_id == created.ehr_id
    assert client.find_ehr(subject_id, "another-namespace") is None


def test_letters_page_newest_first_without_gaps_or_repeats(target: Target) -> None:
    client = with_template(target)
    subject_id = subject()
    store_letters(client, subject_id, [letter(n) for n in range(23)])
    seen: list[str] = []
    pages = []
    page = 1
    while True:
        result = list_letters(
            client,
            subject_id=subject_id,
            namespace="fhir",
            template_id=lt.TEMPLATE_ID,
            page=page,
            page_size=10,
        )
        pages.append(len(result.letters))
        seen.extend(item.title for item in result.letters)
        if not result.has_next:
            break
        page += 1
    assert pages == [10, 10, 3]
    assert seen == [f"Clinic letter {n}" for n in range(22, -1, -1)]


def test_letter_rows_carry_date_author_status_and_recipient(target: Target) -> None:
    client = with_template(target)
    subject_id = subject()
    store_letters(client, subject_id, [letter(1, status="amended", author="Dr Owen Hughes")])
    [row] = list_letters(
        client, subject_id=subject_id, namespace="fhir", template_id=lt.TEMPLATE_ID
    ).letters
    assert row.title == "Clinic letter 1"
    assert row.author == "Dr Owen Hughes"
    assert row.status == "amended"
    assert row.recipient == "Dr Alan Fraser, Millbrook Surgery"
    assert row.date == datetime(2025, 1, 2, 9, 30, tzinfo=UTC)
    assert "::" in row.uid


def test_letters_filter_by_status_author_and_date_range(target: Target) -> None:
    client = with_template(target)
    subject_id = subject()
    store_letters(
        client,
        subject_id,
        [
            letter(1, status="draft", author="Dr A Draft", day=0),
            letter(2, status="final", author="Dr B Final", day=10),
            letter(3, status="final", author="Dr A Draft", day=20),
            letter(4, status="amended", author="Dr B Final", day=30),
        ],
    )

    def titles(filters: LetterFilters) -> list[str]:
        return [
            item.title
            for item in list_letters(
                client,
                subject_id=subject_id,
                namespace="fhir",
                template_id=lt.TEMPLATE_ID,
                filters=filters,
            ).letters
        ]

    assert titles(LetterFilters(status="final")) == ["Clinic letter 3", "Clinic letter 2"]
    assert titles(LetterFilters(author="Dr A Draft")) == ["Clinic letter 3", "Clinic letter 1"]
    assert titles(LetterFilters(author="Draft")) == ["Clinic letter 3", "Clinic letter 1"]
    assert titles(LetterFilters(author="b final")) == ["Clinic letter 4", "Clinic letter 2"]
    assert titles(LetterFilters(date_from=date(2025, 1, 11), date_to=date(2025, 1, 21))) == [
        "Clinic letter 3",
        "Clinic letter 2",
    ]
    assert titles(LetterFilters(status="amended", author="Dr A Draft")) == []


LONDON = ZoneInfo("Europe/London")


def _letter_at(title: str, when: datetime) -> lt.LetterInput:
    return lt.LetterInput(
        title=title,
        body_markdown="Seen in clinic.",
        status="final",
        author="Dr Priya Raman",
        date=when,
        recipient=None,
    )


def _titles(client: EhrbaseClient, subject_id: str, filters: LetterFilters) -> list[str]:
    page = list_letters(
        client,
        subject_id=subject_id,
        namespace="fhir",
        template_id=lt.TEMPLATE_ID,
        filters=filters,
        tz=LONDON,
    )
    return [item.title for item in page.letters]


def test_letter_dates_compare_as_instants_across_midnight_and_the_clock_change(
    target: Target,
) -> None:
    """Letters written with different UTC offsets fall on their London day and sort by time.

    The clocks went forward at 01:00 GMT on 30 March 2025. Compared as text, the letter
    written at 00:30+01:00 (23:30 GMT on the 29th) would sort after 23:45 GMT and count as the
    30th."""
    client = with_template(target)
    subject_id = subject()
    plus_one = timezone(timedelta(hours=1))
    store_letters(
        client,
        subject_id,
        [
            _letter_at("Evening, GMT", datetime(2025, 3, 29, 23, 45, tzinfo=UTC)),
            _letter_at("Late evening, +01:00", datetime(2025, 3, 30, 0, 30, tzinfo=plus_one)),
            _letter_at("Morning, BST", datetime(2025, 3, 30, 9, 0, tzinfo=plus_one)),
            _letter_at("Autumn, just after midnight", datetime(2025, 10, 26, 0, 10, tzinfo=UTC)),
            _letter_at("Autumn, just before", datetime(2025, 10, 25, 23, 50, tzinfo=UTC)),
        ],
    )
    assert _titles(client, subject_id, LetterFilters(date_to=date(2025, 3, 29))) == [
        "Evening, GMT",
        "Late evening, +01:00",
    ]
    assert _titles(
        client, subject_id, LetterFilters(date_from=date(2025, 3, 30), date_to=date(2025, 3, 30))
    ) == ["Morning, BST"]
    # 25 October is BST until the clocks go back at 01:00 UTC on the 26th: 23:50 UTC on the
    # 25th is 00:50 on the 26th in London, and so is 00:10 UTC (01:10 BST).
    assert _titles(client, subject_id, LetterFilters(date_from=date(2025, 10, 26))) == [
        "Autumn, just after midnight",
        "Autumn, just before",
    ]
    assert _titles(client, subject_id, LetterFilters(date_to=date(2025, 10, 25))) == [
        "Morning, BST",
        "Evening, GMT",
        "Late evening, +01:00",
    ]


def test_a_quote_in_the_patient_id_cannot_change_the_query(target: Target) -> None:
    client = with_template(target)
    victim = subject()
    store_letters(client, victim, [letter(1)])
    hostile = f"x' OR e/ehr_status/subject/external_ref/id/value = '{victim}"
    result = list_letters(client, subject_id=hostile, namespace="fhir", template_id=lt.TEMPLATE_ID)
    assert result.letters == []
    if target.emulator is not None:
        sent = target.emulator.aql_requests[-1]
        assert hostile not in sent["q"] and "'" not in sent["q"]
        assert sent["query_parameters"]["subject_id"] == hostile


def test_a_letter_is_read_only_through_its_own_patient(target: Target) -> None:
    client = with_template(target)
    owner, other = subject(), subject()
    [uid] = store_letters(client, owner, [letter(7)])
    store_letters(client, other, [letter(8)])
    found = get_letter(
        client, subject_id=owner, namespace="fhir", template_id=lt.TEMPLATE_ID, uid=uid
    )
    assert found is not None
    assert found.title == "Clinic letter 7"
    assert found.body_markdown.startswith("# Letter 7")
    assert found.version == 1
    assert found.composition["archetype_node_id"] == lt.COMPOSITION_ARCHETYPE
    assert (
        get_letter(client, subject_id=other, namespace="fhir", template_id=lt.TEMPLATE_ID, uid=uid)
        is None
    )


def test_composition_read_by_uid_in_both_formats_and_its_owner_checked(target: Target) -> None:
    client = with_template(target)
    subject_id = subject()
    [version_uid] = store_letters(client, subject_id, [letter(3)])
    ehr = client.find_ehr(subject_id, "fhir")
    assert ehr is not None
    canonical = client.get_composition(ehr.ehr_id, version_uid.split("::")[0])
    assert canonical.version_uid == version_uid and canonical.version == 1
    assert canonical.body["archetype_details"]["template_id"]["value"] == lt.TEMPLATE_ID
    flat = client.get_composition(ehr.ehr_id, version_uid, fmt="FLAT")
    assert flat.body[f"{lt.FLAT_CONTENT}/title"] == "Clinic letter 3"
    assert client.composition_belongs_to(version_uid, ehr_id=ehr.ehr_id)
    stranger = client.create_ehr(subject(), "fhir")
    assert not client.composition_belongs_to(version_uid, ehr_id=stranger.ehr_id)
    with pytest.raises(errors.EhrbaseNotFound):
        client.get_composition(stranger.ehr_id, version_uid)


def test_a_deleted_composition_reads_as_deleted(target: Target) -> None:
    client = with_template(target)
    subject_id = subject()
    [version_uid] = store_letters(client, subject_id, [letter(4)])
    ehr = client.find_ehr(subject_id, "fhir")
    assert ehr is not None
    client.delete_composition(ehr.ehr_id, version_uid)
    with pytest.raises(errors.CompositionDeleted):
        client.get_composition(ehr.ehr_id, version_uid.split("::")[0])
    assert (
        list_letters(
            client, subject_id=subject_id, namespace="fhir", template_id=lt.TEMPLATE_ID
        ).letters
        == []
    )


def test_unknown_composition_is_not_found(target: Target) -> None:
    client = target.client()
    ehr = client.create_ehr(subject(), "fhir")
    with pytest.raises(errors.EhrbaseNotFound) as caught:
        client.get_composition(ehr.ehr_id, str(uuid.uuid4()))
    assert caught.value.status == 404
    assert caught.value.diagnostics


def test_an_unparseable_query_is_rejected_with_the_servers_words(target: Target) -> None:
    with pytest.raises(errors.EhrbaseRejected) as caught:
        target.client().query("SELECT FROM WHERE", {})
    assert caught.value.status == 400
    assert caught.value.diagnostics
