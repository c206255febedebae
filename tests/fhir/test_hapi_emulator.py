"""HAPI semantics the emulator reproduces beyond the shared contract tests."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.support.fhir import Hapi

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def person(family: str, *given: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": list(given)}], **extra}


def search(hapi: Hapi, query: str, **headers: str) -> dict[str, Any]:
    response = requests.get(
        f"{hapi.base_url}/Patient?{query}",
        headers={"Cache-Control": "no-cache", **headers},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()


def families(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["name"][0].get("family", "") for e in bundle.get("entry", [])]


def post(hapi: Hapi, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(
        f"{hapi.base_url}{path}",
        data=json.dumps(body),
        headers={"Content-Type": "application/fhir+json", **headers},
        timeout=5,
    )


def test_string_matching_is_accent_and_case_insensitive_prefix(hapi: Hapi) -> None:
    hapi.app.seed([person("Lefèvre", "Zoë"), person("LEFEBVRE", "Ann"), person("Smith", "Lef")])
    assert families(search(hapi, "family=lefe")) == ["Lefèvre", "LEFEBVRE"]
    assert families(search(hapi, "given=zoe")) == ["Lefèvre"]
    assert families(search(hapi, "name=lef")) == ["Lefèvre", "LEFEBVRE", "Smith"]
    assert families(search(hapi, "family:exact=LEFEBVRE")) == ["LEFEBVRE"]
    assert families(search(hapi, "family:exact=lefebvre")) == []
    assert families(search(hapi, "family:contains=fèv")) == ["Lefèvre"]


def test_repeats_mean_and_commas_mean_or(hapi: Hapi) -> None:
    hapi.app.seed([person("Smith", "John"), person("Smith", "Jane"), person("Jones", "John")])
    assert families(search(hapi, "name=john&name=smith")) == ["Smith"]
    assert families(search(hapi, "family=smith,jones")) == ["Smith", "Smith", "Jones"]
    assert families(search(hapi, "name=John%20Smith")) == [], "a space is not two words"


def test_gender_is_a_token_and_an_unknown_code_finds_nothing(hapi: Hapi) -> None:
    hapi.app.seed([person("A", gender="female"), person("B", gender="male")])
    assert families(search(hapi, "gender=female")) == ["A"]
    assert search(hapi, "gender=f")["total"] == 0


def test_identifier_forms(hapi: Hapi) -> None:
    hapi.app.seed(
        [
            person("Nhs", identifier=[{"system": NHS, "value": "9434765919"}]),
            person("Bare", identifier=[{"value": "9434765919"}]),
        ]
    )
    assert families(search(hapi, f"identifier={NHS}%7C9434765919")) == ["Nhs"]
    assert families(search(hapi, "identifier=9434765919")) == ["Nhs", "Bare"]
    assert families(search(hapi, "identifier=%7C9434765919")) == ["Bare"]
    assert families(search(hapi, f"identifier={NHS}%7C")) == ["Nhs"]


def test_postcode_prefix(hapi: Hapi) -> None:
    hapi.app.seed(
        [
            person("Leeds", address=[{"postalCode": "LS6 2AB"}]),
            person("Man", address=[{"postalCode": "M1 1AA"}]),
        ]
    )
    assert families(search(hapi, "address-postalcode=ls6")) == ["Leeds"]


def test_total_only_for_small_sets_unless_accurate(hapi: Hapi) -> None:
    hapi.app.seed([person(f"Many{i:02d}") for i in range(20)])
    assert "total" not in search(hapi, "family=many")
    assert search(hapi, "family=many&_total=accurate")["total"] == 20
    assert search(hapi, "family=many01")["total"] == 1


def test_summary_count(hapi: Hapi) -> None:
    hapi.app.seed([person("Count"), person("Count")])
    bundle = search(hapi, "family=count&_summary=count")
    assert bundle["total"] == 2 and "entry" not in bundle and "link" not in bundle


def test_count_limits_the_page_and_links_carry_pretty_and_format(hapi: Hapi) -> None:
    hapi.app.seed([person(f"Page{i}") for i in range(5)])
    bundle = search(hapi, "family=page&_count=2&_pretty=true&_format=json")
    assert len(bundle["entry"]) == 2
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert next_url.startswith(
        f"{hapi.base_url}?_getpages={bundle['id']}&_getpagesoffset=2&_count=2"
    )
    assert next_url.endswith("&_format=json&_pretty=true&_bundletype=searchset")


def test_pretty_printing_is_the_default_and_paging_links_say_so(hapi: Hapi) -> None:
    hapi.app.seed([person(f"Pretty{i}") for i in range(3)])

    def fetch(query: str) -> tuple[str, str]:
        response = requests.get(
            f"{hapi.base_url}/Patient?{query}", headers={"Cache-Control": "no-cache"}, timeout=5
        )
        bundle = response.json()
        return response.text, next(x["url"] for x in bundle["link"] if x["relation"] == "next")

    text, next_url = fetch("family=pretty&_count=1")
    assert "\n  " in text, "the starter pretty-prints by default"
    assert next_url.endswith("&_count=1&_pretty=true&_bundletype=searchset")
    followed = requests.get(next_url, timeout=5)
    assert '"relation": "next"' in followed.text
    assert "&_pretty=true&" in followed.json()["link"][1]["url"]
    text, next_url = fetch("family=pretty&_count=1&_pretty=false")
    assert "\n" not in text
    assert next_url.endswith("&_count=1&_bundletype=searchset")


def test_offset_paging_uses_offset_links(hapi: Hapi) -> None:
    hapi.app.seed([person(f"Off{i}") for i in range(5)])
    bundle = search(hapi, "family=off&_count=2&_offset=2")
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links["next"] == f"{hapi.base_url}/Patient?_count=2&_offset=4&family=off"
    assert links["previous"] == f"{hapi.base_url}/Patient?_count=2&_offset=0&family=off"


def test_cached_results_are_reused_without_no_cache(hapi: Hapi) -> None:
    hapi.app.seed([person("Cache")])
    first = requests.get(f"{hapi.base_url}/Patient?family=cache", timeout=5).json()
    hapi.app.seed([person("Cache")])
    again = requests.get(f"{hapi.base_url}/Patient?family=cache", timeout=5).json()
    assert again["id"] == first["id"] and again["total"] == 1
    assert search(hapi, "family=cache")["total"] == 2


def test_sorting(hapi: Hapi) -> None:
    hapi.app.seed(
        [
            person("Brown", "Zed", birthDate="1990-01-01"),
            person("adams", "Amy", birthDate="1980-01-01"),
            person("Brown", "Al", birthDate="2000-01-01"),
            person("NoDate"),
        ]
    )
    by_name = search(hapi, "_sort=family,given")
    assert [
        (e["resource"]["name"][0]["family"], e["resource"]["name"][0]["given"][0])
        for e in by_name["entry"][:3]
    ] == [
        ("adams", "Amy"),
        ("Brown", "Al"),
        ("Brown", "Zed"),
    ]
    by_age = search(hapi, "_sort=-birthdate")
    assert families(by_age) == ["Brown", "Brown", "adams", "NoDate"]


def test_create_headers_prefer_and_ignored_body_id(hapi: Hapi) -> None:
    response = post(hapi, "/Patient", {**person("New"), "id": "example"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "example"
    assert response.headers["Location"] == f"{hapi.base_url}/Patient/{body['id']}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["X-Powered-By"].startswith("HAPI FHIR 8.")
    minimal = post(hapi, "/Patient", person("Min"), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b""


def test_conditional_create_with_several_matches_is_412(hapi: Hapi) -> None:
    hapi.app.seed([person("Twin", identifier=[{"system": NHS, "value": "1"}])] * 2)
    response = post(hapi, "/Patient", person("Third"), **{"If-None-Exist": f"identifier={NHS}|1"})
    assert response.status_code == 412
    assert "HAPI-0958" in response.json()["issue"][0]["diagnostics"]


def test_create_refuses_bad_bodies(hapi: Hapi) -> None:
    no_type = requests.post(f"{hapi.base_url}/Patient", data="{}", timeout=5)
    assert no_type.status_code == 400 and "Content-Type" in no_type.text
    garbage = requests.post(
        f"{hapi.base_url}/Patient",
        data="{nope",
        headers={"Content-Type": "application/fhir+json"},
        timeout=5,
    )
    assert "HAPI-0450" in garbage.json()["issue"][0]["diagnostics"]
    wrong = post(hapi, "/Patient", {"resourceType": "Observation"})
    assert 'expected "Patient" but found "Observation"' in wrong.json()["issue"][0]["diagnostics"]


def test_update_rules(hapi: Hapi) -> None:
    [pid] = hapi.app.seed([person("Upd")])
    current = hapi.app.resource("Patient", pid)
    assert current is not None
    same = requests.put(
        f"{hapi.base_url}/Patient/{pid}",
        data=json.dumps(current),
        headers={"Content-Type": "application/fhir+json"},
        timeout=5,
    )
    assert same.status_code == 200 and same.json()["meta"]["versionId"] == "1", "no-op update"
    mismatch = requests.put(
        f"{hapi.base_url}/Patient/other",
        data=json.dumps(current),
        headers={"Content-Type": "application/fhir+json"},
        timeout=5,
    )
    assert "HAPI-0420" in mismatch.text
    numeric = requests.put(
        f"{hapi.base_url}/Patient/42",
        data=json.dumps({**current, "id": "42"}),
        headers={"Content-Type": "application/fhir+json"},
        timeout=5,
    )
    assert numeric.status_code == 400 and "HAPI-0960" in numeric.text
    client_id = requests.put(
        f"{hapi.base_url}/Patient/abc-1",
        data=json.dumps({**current, "id": "abc-1"}),
        headers={"Content-Type": "application/fhir+json"},
        timeout=5,
    )
    assert client_id.status_code == 201


def test_vread_and_unknown_resource_types(hapi: Hapi) -> None:
    [pid] = hapi.app.seed([person("Hist")])
    assert requests.get(f"{hapi.base_url}/Patient/{pid}/_history/1", timeout=5).status_code == 200
    assert requests.get(f"{hapi.base_url}/Patient/{pid}/_history/9", timeout=5).status_code == 404
    unknown = requests.get(f"{hapi.base_url}/Toothbrush/1", timeout=5)
    assert (
        unknown.status_code == 404
        and "HAPI-0302: Unknown resource type 'Toothbrush'" in unknown.text
    )


def test_transaction_is_all_or_nothing(hapi: Hapi) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": person("Kept"), "request": {"method": "POST", "url": "Patient"}},
            {"resource": person("Bad"), "request": {"method": "PUT", "url": "Patient/123"}},
        ],
    }
    response = post(hapi, "", bundle)
    assert response.status_code == 400
    assert hapi.app.count() == 0, "the first entry was rolled back"


def test_batch_reports_each_entry(hapi: Hapi) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": person("Ok"), "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient/nope"}},
        ],
    }
    response = post(hapi, "", bundle)
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "201 Created"
    assert entries[0]["response"]["location"].startswith("Patient/")
    assert entries[1]["response"]["status"] == "404 Not Found"
    assert "HAPI-2001" in entries[1]["response"]["outcome"]["issue"][0]["diagnostics"]


def test_fault_injection_reaches_fhir_paths(hapi: Hapi) -> None:
    hapi.server.set_faults(status=503, only_paths=("/fhir/Patient",))
    assert requests.get(f"{hapi.base_url}/Patient?name=x", timeout=5).status_code == 503
    assert requests.get(f"{hapi.base_url}/metadata", timeout=5).status_code == 200


# What the real HAPI FHIR 8.8 (the compose image's configuration) was found to send, by the parity
# test against it (tests/fhir/test_parity.py).


def test_patients_carry_hapis_generated_narrative_escaped_and_a_request_source(
    hapi: Hapi,
) -> None:
    created = post(
        hapi,
        "/Patient",
        {
            **person("O'Hara<b>", "Ann", "Marie"),
            "identifier": [{"system": NHS, "value": "9990001234"}],
            "birthDate": "1970-01",
            "meta": {"source": "urn:loader"},
        },
        Prefer="return=representation",
    ).json()
    assert created["text"] == {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><div class="hapiHeaderText">Ann Marie '
        "<b>O'HARA&lt;B&gt; </b></div>"
        '<table class="hapiPropertyTable"><tbody><tr><td>'
        "Identifier</td><td>9990001234</td></tr><tr><td>Date of birth</td><td><span>01 January "
        "1970</span></td></tr></tbody></table></div>",
    }
    assert list(created)[:4] == ["resourceType", "id", "meta", "text"]
    source, _, request_id = created["meta"]["source"].partition("#")
    assert source == "urn:loader" and len(request_id) == 16 and request_id.isalnum()
    found = search(hapi, "family=o")["entry"][0]["resource"]
    assert found["text"] == created["text"]


def test_operation_outcomes_carry_hapis_narrative(hapi: Hapi) -> None:
    response = requests.get(f"{hapi.base_url}/Patient/nobody", timeout=5)
    assert response.status_code == 404
    assert response.json()["text"]["div"] == (
        '<div xmlns="http://www.w3.org/1999/xhtml"><h1>Operation Outcome</h1><table border="0">'
        '<tr><td style="font-weight: bold;">ERROR</td><td>[]</td><td>HAPI-2001: Resource '
        "Patient/nobody is not known</td></tr></table></div>"
    )


def test_full_text_parameters_are_refused_without_the_index(hapi: Hapi) -> None:
    for name in ("_content", "_text"):
        response = requests.get(f"{hapi.base_url}/Patient?{name}=smith", timeout=5)
        assert response.status_code == 400
        assert response.json()["issue"][0]["diagnostics"] == (
            "HAPI-1192: Fulltext search is not enabled on this service, can not process "
            f"parameter: {name}"
        )


def test_an_unknown_sort_lists_the_valid_values_and_any_search_parameter_sorts(
    hapi: Hapi,
) -> None:
    response = requests.get(f"{hapi.base_url}/Patient?_sort=shoe-size", timeout=5)
    assert response.json()["issue"][0]["diagnostics"].endswith(
        "Valid values for this search are: [_id, _lastUpdated, _profile, _security, _source, "
        "_tag, active, address, address-city, address-country, address-postalcode, "
        "address-state, address-use, birthdate, death-date, deceased, email, family, gender, "
        "general-practitioner, given, identifier, language, link, name, organization, phone, "
        "phonetic, telecom]"
    )
    assert requests.get(f"{hapi.base_url}/Patient?_sort=-_tag", timeout=5).status_code == 200


def test_search_answers_are_dated_and_pages_name_their_search(hapi: Hapi) -> None:
    hapi.app.seed([person("Page", "A"), person("Page", "B")])
    first = requests.get(f"{hapi.base_url}/Patient?family=page&_count=1", timeout=5)
    assert first.headers["Last-Modified"].endswith(" GMT")
    assert "Content-Location" not in first.headers
    bundle = first.json()
    following = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    second = requests.get(following, timeout=5)
    assert second.headers["Content-Location"] == f"{hapi.base_url}/Bundle/{bundle['id']}"
    assert second.headers["Last-Modified"].endswith(" GMT")


def test_delete_and_the_gone_read_name_the_deletions_version(hapi: Hapi) -> None:
    [patient_id] = hapi.app.seed([person("Gone", "A")])
    deleted = requests.delete(f"{hapi.base_url}/Patient/{patient_id}", timeout=5)
    version_2 = f"{hapi.base_url}/Patient/{patient_id}/_history/2"
    assert deleted.headers["Content-Location"] == version_2
    assert deleted.json()["issue"][0]["details"]["coding"][0]["code"] == "SUCCESSFUL_DELETE"
    gone = requests.get(f"{hapi.base_url}/Patient/{patient_id}", timeout=5)
    assert gone.status_code == 410
    assert gone.headers["Location"] == version_2


def test_a_stale_if_match_and_a_bad_count_are_worded_as_hapi_words_them(hapi: Hapi) -> None:
    [patient_id] = hapi.app.seed([person("Stale", "A")])
    url = f"{hapi.base_url}/Patient/{patient_id}"
    current = requests.get(url, timeout=5).json()
    headers = {"Content-Type": "application/fhir+json", "If-Match": 'W/"1"'}
    male = json.dumps({**current, "gender": "male"})
    first = requests.put(url, data=male, headers=headers, timeout=5)
    assert first.status_code == 200
    other = json.dumps({**current, "gender": "other"})
    stale = requests.put(url, data=other, headers=headers, timeout=5)
    assert stale.status_code == 409
    assert stale.json()["issue"][0]["code"] == "processing"
    bad = requests.get(f"{hapi.base_url}/Patient?_count=many", timeout=5)
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["diagnostics"] == "HAPI-0375: Invalid _count value: many"
