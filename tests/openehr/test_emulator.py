"""The EHRbase emulator answers like EHRbase 2.x on the wire (status codes, headers, bodies)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from console.openehr import letter_template as lt
from tests.support.openehr import Target

API = "/rest/openehr/v1"


class Http:
    def __init__(self, target: Target) -> None:
        self.target = target

    def __call__(
        self, method: str, path: str, *, admin: bool = False, **kwargs: Any
    ) -> requests.Response:
        auth = (
            (self.target.admin_user or "", self.target.admin_password or "")
            if admin
            else (self.target.user, self.target.password)
        )
        kwargs.setdefault("auth", auth)
        return requests.request(method, self.target.url + path, timeout=5, **kwargs)


@pytest.fixture
def http(ehrbase: Target) -> Http:
    return Http(ehrbase)


@pytest.fixture
def template(http: Http) -> None:
    http(
        "POST",
        f"{API}/definition/template/adl1.4",
        admin=True,
        data=lt.letter_opt(),
        headers={"Content-Type": "application/xml"},
    )


def ehr_status(subject_id: str) -> dict[str, Any]:
    return {
        "_type": "EHR_STATUS",
        "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
        "name": {"value": "EHR Status"},
        "subject": {
            "external_ref": {
                "id": {"_type": "GENERIC_ID", "value": subject_id, "scheme": "id_scheme"},
                "namespace": "fhir",
                "type": "PERSON",
            }
        },
        "is_modifiable": True,
        "is_queryable": True,
    }


def new_ehr(http: Http) -> str:
    response = http("POST", f"{API}/ehr", json=ehr_status(str(uuid.uuid4())))
    return response.headers["ETag"].strip('"')


def test_every_path_needs_credentials(http: Http) -> None:
    response = http("GET", "/rest/status", auth=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Realm"'
    assert response.json()["error"] == "Unauthorized"
    assert http("GET", "/rest/status", auth=("ehrbase-user", "wrong")).status_code == 401


def test_status_is_xml_unless_json_is_asked_for(http: Http) -> None:
    xml = http("GET", "/rest/status")
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert xml.text.startswith("<status><ehrbase_version>2.")
    as_json = http("GET", "/rest/status", headers={"Accept": "application/json"})
    assert as_json.json()["ehrbase_version"].startswith("2.")


def test_ehr_create_minimal_and_with_representation(http: Http) -> None:
    minimal = http("POST", f"{API}/ehr", json=ehr_status("s-min"))
    assert minimal.status_code == 201 and minimal.content == b""
    ehr_id = minimal.headers["ETag"].strip('"')
    assert minimal.headers["Location"].endswith(f"/ehrbase{API}/ehr/{ehr_id}")
    full = http(
        "POST", f"{API}/ehr", json=ehr_status("s-full"), headers={"Prefer": "return=representation"}
    )
    assert full.status_code == 201
    body = full.json()
    assert body["_type"] == "EHR" and body["ehr_id"]["value"] and "ehr_access" not in body
    assert body["ehr_status"]["id"]["value"].endswith("::quill.ehrbase.node::1")


def test_ehr_create_refusals(http: Http) -> None:
    http("POST", f"{API}/ehr", json=ehr_status("s-dup"))
    duplicate = http("POST", f"{API}/ehr", json=ehr_status("s-dup"))
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "error": "Conflict",
        "message": "Supplied partyId[s-dup] is used by a different EHR in the same partyNamespace[fhir].",
    }
    no_type = http("POST", f"{API}/ehr", json={"subject": {}})
    assert (
        no_type.status_code == 400
        and "missing type id property '_type'" in no_type.json()["message"]
    )
    status = ehr_status("s-x")
    del status["is_queryable"]
    assert (
        http("POST", f"{API}/ehr", json=status).json()["message"]
        == "Missing attribute EHR_STATUS/is_queryable"
    )


def test_ehr_by_subject_needs_both_parameters(http: Http) -> None:
    http("POST", f"{API}/ehr", json=ehr_status("s-find"))
    found = http("GET", f"{API}/ehr", params={"subject_id": "s-find", "subject_namespace": "fhir"})
    assert (
        found.status_code == 200
        and found.headers["ETag"].strip('"') == found.json()["ehr_id"]["value"]
    )
    missing = http(
        "GET", f"{API}/ehr", params={"subject_id": "nobody", "subject_namespace": "fhir"}
    )
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "Not Found",
        "message": "No EHR with supplied subject parameters found",
    }
    assert http("GET", f"{API}/ehr", params={"subject_id": "s-find"}).status_code == 400
    assert (
        http("GET", f"{API}/ehr/not-a-uuid").json()["message"]
        == "EHR not found, in fact, only UUID-type IDs are supported"
    )


def test_composition_create_minimal_is_204_and_representation_is_201(
    http: Http, template: None
) -> None:
    ehr_id = new_ehr(http)
    flat = lt.letter_to_flat(
        lt.LetterInput("Title", "Body", "final", "Dr A", datetime(2025, 1, 1, tzinfo=UTC))
    )
    params = {"templateId": lt.TEMPLATE_ID, "format": "FLAT"}
    minimal = http("POST", f"{API}/ehr/{ehr_id}/composition", params=params, json=flat)
    assert minimal.status_code == 204 and minimal.content == b""
    etag = minimal.headers["ETag"].strip('"')
    assert etag.endswith("::quill.ehrbase.node::1")
    assert minimal.headers["Location"].endswith(f"/composition/{etag.split('::')[0]}")
    full = http(
        "POST",
        f"{API}/ehr/{ehr_id}/composition",
        params=params,
        json=flat,
        headers={"Prefer": "return=representation"},
    )
    assert full.status_code == 201
    assert full.headers["Content-Type"].startswith("application/openehr.wt.flat.schema+json")
    assert full.json()[f"{lt.FLAT_ROOT}/_uid"] == full.headers["ETag"].strip('"')


def test_composition_create_refusals(http: Http, template: None) -> None:
    ehr_id = new_ehr(http)
    url = f"{API}/ehr/{ehr_id}/composition"
    flat = {
        "ctx/composer_name": "Dr A",
        f"{lt.FLAT_CONTENT}/title": "T",
        f"{lt.FLAT_CONTENT}/body": "B",
        f"{lt.FLAT_CONTENT}/status|code": "at0005",
    }
    unknown = http(
        "POST",
        url,
        params={"templateId": lt.TEMPLATE_ID, "format": "FLAT"},
        json={**flat, f"{lt.FLAT_CONTENT}/colour": "red"},
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"] == f"Could not consume Parts [{lt.FLAT_CONTENT}/colour]"
    incomplete = {k: v for k, v in flat.items() if not k.endswith("/body")}
    assert (
        http(
            "POST", url, params={"templateId": lt.TEMPLATE_ID, "format": "FLAT"}, json=incomplete
        ).status_code
        == 422
    )
    bad_code = {**flat, f"{lt.FLAT_CONTENT}/status|code": "at9999"}
    assert (
        http(
            "POST", url, params={"templateId": lt.TEMPLATE_ID, "format": "FLAT"}, json=bad_code
        ).status_code
        == 422
    )
    no_template = http("POST", url, params={"templateId": "Nope.v1", "format": "FLAT"}, json=flat)
    assert no_template.json()["message"] == "Could not retrieve template for template Id: Nope.v1"
    assert http("POST", url, params={"format": "FLAT"}, json=flat).status_code == 500
    assert http("POST", url, params={"format": "RAW"}, json=flat).status_code == 400
    other = http(
        "POST",
        f"{API}/ehr/{uuid.uuid4()}/composition",
        params={"templateId": lt.TEMPLATE_ID, "format": "FLAT"},
        json=flat,
    )
    assert other.status_code == 404


def test_templates_list_json_upload_xml(http: Http) -> None:
    listing = http("GET", f"{API}/definition/template/adl1.4")
    assert isinstance(listing.json(), list)
    upload = http(
        "POST",
        f"{API}/definition/template/adl1.4",
        admin=True,
        data=lt.letter_opt(),
        headers={"Content-Type": "application/xml", "Accept": "application/json"},
    )
    assert upload.status_code == 406
    unknown = http("GET", f"{API}/definition/template/adl1.4/Nope.v1")
    assert unknown.status_code == 404


def test_aql_refusals_use_ehrbase_error_shape(http: Http) -> None:
    url = f"{API}/query/aql"
    assert http("POST", url, json={}).json() == {
        "error": "Bad Request",
        "message": "No query provided.",
    }
    assert (
        http("POST", url, json={"q": ["a", "b"]}).json()["message"] == "Multiple queries provided."
    )
    unsupported = http(
        "POST",
        url,
        json={
            "q": "SELECT c/uid/value FROM EHR e CONTAINS COMPOSITION c WHERE c/uid/value = $a OR c/uid/value = $b",
            "query_parameters": {"a": 1, "b": 2},
        },
    )
    assert unsupported.status_code == 400
    assert unsupported.json()["message"].startswith("Could not parse AQL query:")
    missing = http(
        "POST", url, json={"q": "SELECT e/ehr_id/value FROM EHR e WHERE e/ehr_id/value = $ehr_id"}
    )
    assert missing.status_code == 400 and "$ehr_id" in missing.json()["message"]
    limited = http("POST", url, json={"q": "SELECT e/ehr_id/value FROM EHR e LIMIT 5", "fetch": 10})
    assert limited.status_code == 422


def test_aql_result_set_shape(http: Http) -> None:
    new_ehr(http)
    q = "SELECT e/ehr_id/value AS id, e/time_created/value FROM EHR e ORDER BY e/time_created/value DESC"
    response = http("POST", f"{API}/query/aql", json={"q": q, "offset": 0, "fetch": 1})
    body = response.json()
    assert body["q"] == q
    assert body["columns"] == [
        {"path": "e/ehr_id/value", "name": "id"},
        {"path": "e/time_created/value", "name": "#1"},
    ]
    assert len(body["rows"]) == 1
    meta = body["meta"]
    assert meta["_type"] == "RESULTSET" and meta["_schema_version"] == "1.0.3"
    assert meta["resultsize"] == 1 and meta["fetch"] == 1 and meta["offset"] == 0
    unlimited = http("POST", f"{API}/query/aql", json={"q": q}).json()["meta"]
    assert "fetch" not in unlimited and "offset" not in unlimited


def test_deleted_composition_reads_as_204(http: Http, template: None) -> None:
    ehr_id = new_ehr(http)
    flat = {
        "ctx/composer_name": "Dr A",
        f"{lt.FLAT_CONTENT}/title": "T",
        f"{lt.FLAT_CONTENT}/body": "B",
        f"{lt.FLAT_CONTENT}/status|code": "at0005",
    }
    created = http(
        "POST",
        f"{API}/ehr/{ehr_id}/composition",
        params={"templateId": lt.TEMPLATE_ID, "format": "FLAT"},
        json=flat,
    )
    version_uid = created.headers["ETag"].strip('"')
    assert http("DELETE", f"{API}/ehr/{ehr_id}/composition/{version_uid}").status_code == 204
    deleted = http("GET", f"{API}/ehr/{ehr_id}/composition/{version_uid.split('::')[0]}")
    assert deleted.status_code == 204 and deleted.content == b""
    unknown = http("GET", f"{API}/ehr/{ehr_id}/composition/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json()["message"].startswith(
        "No COMPOSITION with given id:"
    )
