"""Parity: the same requests to the EHRbase emulator and to the real EHRbase answer alike.

Each exchange is a request the console makes (or a mistake it must survive), sent as raw HTTP
to both servers. What is compared is what the console reads: the status code, the headers it
uses (``Content-Type``, ``ETag``, ``Location``, ``WWW-Authenticate``), and the shape of the
body: the keys of error bodies and of JSON objects, the AQL result's columns and row width.
Values that differ by nature (ids, times, versions) are not compared, nor are two fields the
console does not read and EHRbase 2.30 adds to what the live tier's release sends: the
``_type`` of the EHR object and the Archie and SDK versions in ``/rest/status``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from console.openehr import letter_template as lt
from console.openehr.errors import parse_error_body
from console.openehr.letters import letters_query
from tests.support.live import live_ehrbase
from tests.support.openehr import Target

pytestmark = pytest.mark.live

API = "/rest/openehr/v1"


@dataclass
class Server:
    """One side of the comparison: a base URL, its accounts and what the setup made there."""

    target: Target
    subject_id: str = ""
    ehr_id: str = ""
    version_uid: str = ""

    def send(self, method: str, path: str, account: str = "user", **kwargs: Any) -> Any:
        auth: tuple[str, str] | None = {
            "user": (self.target.user, self.target.password),
            "admin": (self.target.admin_user or "", self.target.admin_password or ""),
            "wrong": (self.target.user, "not-the-password"),
        }.get(account)
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.target.url + path, auth=auth, headers=headers, timeout=60, **kwargs
        )


def _ehr_status(subject_id: str) -> dict[str, Any]:
    return {
        "_type": "EHR_STATUS",
        "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
        "name": {"_type": "DV_TEXT", "value": "EHR status"},
        "subject": {
            "_type": "PARTY_SELF",
            "external_ref": {
                "_type": "PARTY_REF",
                "id": {"_type": "GENERIC_ID", "value": subject_id, "scheme": "fhir"},
                "namespace": "parity",
                "type": "PERSON",
            },
        },
        "is_modifiable": True,
        "is_queryable": True,
    }


def _prepare(target: Target) -> Server:
    """The letter template, one EHR and one letter on the server."""
    client = target.client()
    if not any(t.template_id == lt.TEMPLATE_ID for t in client.list_templates()):
        client.ensure_template(lt.letter_opt())
    server = Server(target, subject_id=f"parity-{uuid.uuid4()}")
    ehr, _ = client.ensure_ehr(server.subject_id, "parity")
    server.ehr_id = ehr.ehr_id
    item = lt.LetterInput(
        title="Parity letter",
        body_markdown="Seen.",
        status="final",
        author="Dr Priya Raman",
        date=datetime(2025, 5, 1, 9, 0, tzinfo=UTC),
    )
    server.version_uid = client.create_composition(
        ehr.ehr_id, lt.TEMPLATE_ID, lt.letter_to_flat(item)
    ).version_uid
    client.close()
    return server


@pytest.fixture
def servers(ehrbase: Target) -> Iterator[tuple[Server, Server]]:
    """(emulator, real EHRbase), each with the template, an EHR and a letter."""
    real = live_ehrbase()
    live = Target(real.url, real.user, real.password, real.admin_user, real.admin_password)
    yield _prepare(ehrbase), _prepare(live)


def _media_type(response: Any) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip()


def _keys(response: Any) -> list[str]:
    try:
        data = response.json()
    except ValueError:
        return ["<not JSON>"]
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return [type(data).__name__]
    return sorted(key for key in data if key != "_type")


STATUS_KEYS = {"ehrbase_version", "jvm_version", "os_version", "postgres_version"}
"""What every EHRbase 2.x status carries (2.30 adds ``archie_version``, ``openehr_sdk_version``)."""


def _status_body(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "type": _media_type(response),
        "body keys": sorted(STATUS_KEYS & set(_keys(response))),
    }


def _aql_shape(response: Any) -> dict[str, Any]:
    data = response.json()
    return {
        "columns": [(c.get("name"), c.get("path")) for c in data.get("columns", [])],
        "row widths": sorted({len(row) for row in data.get("rows", [])}),
        "rows": len(data.get("rows", [])),
    }


def _status(response: Any) -> dict[str, Any]:
    return {"status": response.status_code}


def _error(response: Any) -> dict[str, Any]:
    """What the console reads of an error: the body's fields and its ``error`` (the reason)."""
    return {
        "status": response.status_code,
        "body keys": _keys(response),
        "error": parse_error_body(response.text)[0],
    }


def _xml_error(response: Any) -> dict[str, Any]:
    error, message = parse_error_body(response.text)
    return {
        "status": response.status_code,
        "type": _media_type(response),
        "error": error,
        "message read": message != response.text,
    }


def _json(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "type": _media_type(response),
        "body keys": _keys(response),
    }


def _created(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "ETag": bool(response.headers.get("ETag")),
        "Location": bool(response.headers.get("Location")),
    }


def _unauthorised(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "WWW-Authenticate": response.headers.get("WWW-Authenticate", "").split(" ", 1)[0],
    }


def _aql(server: Server, query: str, params: dict[str, Any], **page: int) -> Any:
    return server.send(
        "POST", f"{API}/query/aql", json={"q": query, "query_parameters": params, **page}
    )


Exchange = Callable[[Server], Any]
EXCHANGES: dict[str, tuple[Exchange, Callable[[Any], dict[str, Any]]]] = {
    "status as JSON": (
        lambda s: s.send("GET", "/rest/status"),
        _status_body,
    ),
    "status without credentials": (
        lambda s: s.send("GET", "/rest/status", account="none"),
        _unauthorised,
    ),
    "status with a wrong password": (
        lambda s: s.send("GET", "/rest/status", account="wrong"),
        _unauthorised,
    ),
    "template list": (
        lambda s: s.send("GET", f"{API}/definition/template/adl1.4"),
        _json,
    ),
    "template upload by the user account": (
        lambda s: s.send(
            "POST",
            f"{API}/definition/template/adl1.4",
            data=lt.letter_opt(),
            headers={"Content-Type": "application/xml"},
        ),
        _status,
    ),
    "template uploaded again": (
        lambda s: s.send(
            "POST",
            f"{API}/definition/template/adl1.4",
            account="admin",
            data=lt.letter_opt(),
            headers={"Content-Type": "application/xml"},
        ),
        _error,
    ),
    "template uploaded again, as the console asks": (
        lambda s: s.send(
            "POST",
            f"{API}/definition/template/adl1.4",
            account="admin",
            data=lt.letter_opt(),
            headers={"Content-Type": "application/xml", "Accept": "application/xml, */*;q=0.5"},
        ),
        _xml_error,
    ),
    "EHR of an unknown subject": (
        lambda s: s.send(
            "GET",
            f"{API}/ehr",
            params={"subject_id": f"nobody-{uuid.uuid4()}", "subject_namespace": "parity"},
        ),
        _error,
    ),
    "EHR by subject": (
        lambda s: s.send(
            "GET", f"{API}/ehr", params={"subject_id": s.subject_id, "subject_namespace": "parity"}
        ),
        _json,
    ),
    "EHR created": (
        lambda s: s.send(
            "POST",
            f"{API}/ehr",
            json=_ehr_status(f"parity-{uuid.uuid4()}"),
            headers={"Prefer": "return=minimal"},
        ),
        _created,
    ),
    "EHR for a subject that has one": (
        lambda s: s.send(
            "POST",
            f"{API}/ehr",
            json=_ehr_status(s.subject_id),
            headers={"Prefer": "return=representation"},
        ),
        _error,
    ),
    "letter stored": (
        lambda s: s.send(
            "POST",
            f"{API}/ehr/{s.ehr_id}/composition",
            params={"templateId": lt.TEMPLATE_ID, "format": "FLAT"},
            json=lt.letter_to_flat(
                lt.LetterInput(
                    title="Another",
                    body_markdown="x",
                    status="draft",
                    author="Dr A",
                    date=datetime(2025, 6, 1, tzinfo=UTC),
                )
            ),
            headers={"Prefer": "return=minimal"},
        ),
        _created,
    ),
    "letter read as canonical JSON": (
        lambda s: s.send(
            "GET", f"{API}/ehr/{s.ehr_id}/composition/{s.version_uid}", params={"format": "JSON"}
        ),
        _json,
    ),
    "unknown composition": (
        lambda s: s.send(
            "GET",
            f"{API}/ehr/{s.ehr_id}/composition/{uuid.uuid4()}::quill.ehrbase.node::1",
            params={"format": "JSON"},
        ),
        _error,
    ),
    "the console's letter list": (
        lambda s: _aql(s, *letters_query(s.subject_id, "parity", lt.TEMPLATE_ID), fetch=21),
        _aql_shape,
    ),
    "an unparseable query": (
        lambda s: _aql(s, "SELECT FROM WHERE", {}),
        _error,
    ),
    "a query missing a parameter": (
        lambda s: _aql(
            s,
            "SELECT e/ehr_id/value FROM EHR e WHERE e/ehr_id/value = $ehr_id",
            {},
        ),
        _error,
    ),
}


@pytest.mark.parametrize("name", list(EXCHANGES))
def test_the_emulator_answers_as_the_real_ehrbase(
    servers: tuple[Server, Server], name: str
) -> None:
    send, shape = EXCHANGES[name]
    emulator, real = servers
    assert shape(send(emulator)) == shape(send(real))
