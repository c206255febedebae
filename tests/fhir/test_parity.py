"""Parity: the HAPI emulator answers the console's requests as the real HAPI FHIR does.

The same recorded requests go to the emulator and to the real server at ``LIVE_FHIR_URL``, each
after the same patients were created on it. Each answer is reduced to what the console relies on
(status, the headers it reads, the body's shape: paging links, totals, entries,
OperationOutcome issues) with server-chosen values (base URL, ids, search ids, instants) replaced
by placeholders, and the two reductions must be equal. A difference is fixed in the emulator (so
the fast suite and ``make run`` stay faithful) or in the console.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from console.nhs_number import NHS_NUMBER_SYSTEM
from tests.support.fhir import Hapi, live_fhir_url, random_nhs_number

pytestmark = pytest.mark.live

FHIR_JSON = "application/fhir+json"
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)")
HTTP_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
READ_HEADERS = ("Content-Type", "ETag", "Location", "Content-Location", "Last-Modified")
"""The response headers the console's FHIR client reads (``console/fhir/client.py``)."""


@dataclass
class Server:
    """One FHIR server under comparison, and the names of the ids it handed out."""

    base_url: str
    family: str
    names: dict[str, str] = field(default_factory=dict)
    new_number: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Accept": FHIR_JSON, "Cache-Control": "no-cache", **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def create(self, name: str, resource: dict[str, Any]) -> str:
        response = self.send("POST", "/Patient", json=resource, headers={"Content-Type": FHIR_JSON})
        assert response.status_code == 201, response.text
        self.names[response.json()["id"]] = name
        return response.json()["id"]

    def generalise(self, text: str) -> str:
        """Replace what each server chooses for itself by placeholders."""
        text = text.replace(self.base_url, "{base}")
        text = re.sub(r"_getpages=[^&\"]+", "_getpages={search-id}", text)
        text = re.sub(r'Search ID ("|&quot;).+?\1', r"Search ID \1{search-id}\1", text)
        text = re.sub(r"/Bundle/[0-9a-f-]{36}\b", "/Bundle/{search-id}", text)
        text = re.sub(r"#[A-Za-z0-9]{16}$", "#{request-id}", text)
        text = re.sub(r"Took \d+ms", "Took {n}ms", text)
        text = INSTANT.sub("{instant}", text)
        text = text.replace(self.family.upper(), "{FAMILY}").replace(self.family, "{family}")
        for resource_id, name in sorted(self.names.items(), key=lambda kv: -len(kv[0])):
            text = re.sub(rf"(?<=/){re.escape(resource_id)}\b", f"{{{name}}}", text)
        return text


def random_family() -> str:
    return "Qp" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))


def shape(value: Any, server: Server) -> Any:
    """A JSON value with server-chosen values generalised (``Server.generalise``)."""
    if isinstance(value, dict):
        found = {key: shape(item, server) for key, item in value.items()}
        if "id" in value and isinstance(value["id"], str):
            found["id"] = server.names.get(value["id"], "{server-id}")
        if found.get("resourceType") == "Bundle":
            found.pop("id", None)  # a search's id, a uuid of the server's choosing
        return found
    if isinstance(value, list):
        return [shape(item, server) for item in value]
    if isinstance(value, str):
        return server.generalise(value)
    return value


def answer(response: requests.Response, server: Server) -> dict[str, Any]:
    """Status, the headers the console reads and the body, generalised."""
    headers: dict[str, str] = {}
    for name in READ_HEADERS:
        if name not in response.headers:
            continue
        value = response.headers[name]
        if name == "Content-Type":
            value = value.split(";")[0].strip().lower()
        elif name == "Last-Modified":
            value = "{http-date}" if HTTP_DATE.match(value) else value
        headers[name] = server.generalise(value)
    try:
        body = shape(response.json(), server)
    except ValueError:
        body = response.text
    return {"status": response.status_code, "headers": headers, "body": body}


@pytest.fixture
def servers(hapi: Hapi) -> Iterator[tuple[Server, Server]]:
    """The emulator and the real server, each with the same three patients and one deleted."""
    live = live_fhir_url()
    family = random_family()
    new_number = random_nhs_number()
    pair = (
        Server(hapi.base_url.rstrip("/"), family, new_number=new_number),
        Server(live, family, new_number=new_number),
    )
    numbers = {given: random_nhs_number() for given in ("Ann", "Bea", "Cat", "Gone")}
    for server in pair:
        for given, birth in (("Ann", "1950-06-15"), ("Bea", "1970-01-01"), ("Cat", "1990-01-31")):
            server.create(given, patient(family, given, numbers[given], birthDate=birth))
        gone = server.create("Gone", patient(family, "Gone", numbers["Gone"]))
        assert server.send("DELETE", f"/Patient/{gone}").status_code == 200
    yield pair
    for server in pair:
        for resource_id, name in server.names.items():
            if name != "Gone":
                server.send("DELETE", f"/Patient/{resource_id}")
        server.session.close()


def patient(family: str, given: str, number: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": number}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        **extra,
    }


def id_of(server: Server, name: str) -> str:
    return next(key for key, value in server.names.items() if value == name)


Exchange = Callable[[Server], requests.Response]

RECORDED: dict[str, Exchange] = {
    "read": lambda s: s.send("GET", f"/Patient/{id_of(s, 'Ann')}"),
    "read unknown": lambda s: s.send("GET", "/Patient/qp-unknown-patient"),
    "read deleted": lambda s: s.send("GET", f"/Patient/{id_of(s, 'Gone')}"),
    "search by family, paged by 2": lambda s: s.send(
        "GET", f"/Patient?family={s.family}&_count=2&_sort=given"
    ),
    "search by name and birth date": lambda s: s.send(
        "GET", f"/Patient?name={s.family.lower()}&birthdate=ge1960&_sort=birthdate"
    ),
    "search by NHS number": lambda s: s.send(
        "GET", f"/Patient?identifier={NHS_NUMBER_SYSTEM}|{nhs_number(s, 'Bea')}"
    ),
    "search with no match": lambda s: s.send("GET", f"/Patient?family={s.family}nobody"),
    "search with an unknown parameter": lambda s: s.send("GET", "/Patient?shoe-size=9"),
    "search with a bad date": lambda s: s.send("GET", "/Patient?birthdate=01-01-2020"),
    "search sorted by an unknown parameter": lambda s: s.send("GET", "/Patient?_sort=shoe-size"),
    "page of an unknown search id": lambda s: s.send(
        "GET",
        f"?_getpages={uuid.uuid4()}&_getpagesoffset=2&_count=2&_pretty=true&_bundletype=searchset",
    ),
}


def create_new(server: Server) -> requests.Response:
    resource = patient(server.family, "New", server.new_number, birthDate="2001-02-03")
    response = server.send(
        "POST",
        "/Patient",
        json=resource,
        headers={"Content-Type": FHIR_JSON, "Prefer": "return=representation"},
    )
    server.names[response.json()["id"]] = "New"
    return response


def create_if_none_exist(server: Server) -> requests.Response:
    """A conditional create that finds Bea: 200 and Bea, nothing created."""
    number = nhs_number(server, "Bea")
    return server.send(
        "POST",
        "/Patient",
        json=patient(server.family, "Bea", number),
        headers={
            "Content-Type": FHIR_JSON,
            "Prefer": "return=representation",
            "If-None-Exist": f"identifier={NHS_NUMBER_SYSTEM}|{number}",
        },
    )


def update_stale(server: Server) -> requests.Response:
    """Two updates naming version 1: the second is refused with 409."""
    resource = server.send("GET", f"/Patient/{id_of(server, 'Cat')}").json()
    headers = {"Content-Type": FHIR_JSON, "If-Match": 'W/"1"'}
    male = {**resource, "gender": "male"}
    first = server.send("PUT", f"/Patient/{resource['id']}", json=male, headers=headers)
    assert first.status_code == 200, first.text
    changed = {**resource, "gender": "female"}
    return server.send("PUT", f"/Patient/{resource['id']}", json=changed, headers=headers)


def delete_ann(server: Server) -> requests.Response:
    return server.send("DELETE", f"/Patient/{id_of(server, 'Ann')}")


RECORDED.update(
    {
        "create": create_new,
        "conditional create of an existing patient": create_if_none_exist,
        "update naming a stale version": update_stale,
        "delete": delete_ann,
        "search by full text": lambda s: s.send("GET", f"/Patient?_content={s.family}"),
        "search with a bad _count": lambda s: s.send("GET", "/Patient?_count=many"),
    }
)


def nhs_number(server: Server, name: str) -> str:
    body = server.send("GET", f"/Patient/{id_of(server, name)}").json()
    return str(body["identifier"][0]["value"])


@pytest.mark.parametrize("name", list(RECORDED))
def test_the_emulator_answers_as_the_real_server(servers: tuple[Server, Server], name: str) -> None:
    emulator, real = servers
    assert answer(RECORDED[name](emulator), emulator) == answer(RECORDED[name](real), real)


def test_paging_forward_and_back_matches(servers: tuple[Server, Server]) -> None:
    """Page 1 → next → previous: the same links, totals and entries on both servers."""
    walks = []
    for server in servers:
        first = server.send("GET", f"/Patient?family={server.family}&_count=2&_sort=given")
        links = {link["relation"]: link["url"] for link in first.json()["link"]}
        second = server.send("GET", links["next"])
        back_url = {link["relation"]: link["url"] for link in second.json()["link"]}["previous"]
        back = server.send("GET", back_url)
        walks.append([answer(r, server) for r in (first, second, back)])
    assert walks[0] == walks[1]
