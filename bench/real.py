"""The real HAPI FHIR and EHRbase of ``python -m stack up`` (or the live tier), when they run.

Section 1 measures the console against them as against the emulators: its page vs the very
upstream requests it sent, replayed one after another. Nothing is started here: a server that
does not answer gives "not run" rows saying how to start it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.core import NotRun

BENCH_FAMILY = "Benchmark"
BENCH_IDENTIFIER_SYSTEM = "https://quill.example/Id/bench-patient"
"""The bench's patients on a real server: found again (not created twice) by this identifier."""
BENCH_NAMESPACE = "quill-bench"
"""The EHR subject namespace of the bench's letters on a real EHRbase."""
BENCH_PATIENTS = 40
LETTER_PATIENTS = 10
START_HINT = "start them with 'python -m stack up' (or set LIVE_FHIR_URL and LIVE_EHRBASE_*)"


@dataclass(frozen=True)
class RealServers:
    """Where the real servers answer and the console's EHRbase accounts on them."""

    fhir_url: str
    ehrbase_url: str
    ehrbase_user: str
    ehrbase_password: str
    ehrbase_admin_user: str
    ehrbase_admin_password: str

    def console_config(self) -> dict[str, Any]:
        """The console's upstream settings for these servers."""
        return {
            "FHIR_SERVER_URL": self.fhir_url,
            "EHRBASE_URL": self.ehrbase_url,
            "EHRBASE_API_USER": self.ehrbase_user,
            "EHRBASE_API_PASSWORD": self.ehrbase_password,
            "EHRBASE_API_ADMIN_USER": self.ehrbase_admin_user,
            "EHRBASE_API_ADMIN_PASSWORD": self.ehrbase_admin_password,
        }


def _environment() -> dict[str, str]:
    """``LIVE_*`` from the environment, else where ``python -m stack up`` puts the servers."""
    if os.environ.get("LIVE_FHIR_URL") and os.environ.get("LIVE_EHRBASE_URL"):
        return dict(os.environ)
    from stack import platform

    if not platform.CREDENTIALS_FILE.exists():
        raise NotRun(f"the real servers have never been started in this checkout: {START_HINT}")
    return platform.live_environment()


def _answers(url: str, auth: tuple[str, str] | None = None) -> str | None:
    """None when ``url`` answers 200, else why not."""
    try:
        response = requests.get(url, auth=auth, headers={"Accept": "application/json"}, timeout=60)
    except requests.RequestException as exc:
        return f"{url} does not answer ({type(exc).__name__})"
    return None if response.status_code == 200 else f"{url} answered {response.status_code}"


def real_servers() -> RealServers:
    """The running real servers, or ``NotRun`` saying which one is missing and how to start it."""
    env = _environment()
    servers = RealServers(
        fhir_url=env["LIVE_FHIR_URL"].rstrip("/"),
        ehrbase_url=env["LIVE_EHRBASE_URL"].rstrip("/"),
        ehrbase_user=env["LIVE_EHRBASE_USER"],
        ehrbase_password=env["LIVE_EHRBASE_PASSWORD"],
        ehrbase_admin_user=env["LIVE_EHRBASE_ADMIN_USER"],
        ehrbase_admin_password=env["LIVE_EHRBASE_ADMIN_PASSWORD"],
    )
    problems = [
        problem
        for problem in (
            _answers(f"{servers.fhir_url}/metadata"),
            _answers(
                f"{servers.ehrbase_url}/rest/status",
                (servers.ehrbase_user, servers.ehrbase_password),
            ),
        )
        if problem
    ]
    if problems:
        raise NotRun(f"real servers not running: {'; '.join(problems)}; {START_HINT}")
    return servers


def bench_patients() -> list[dict[str, Any]]:
    """The bench's synthetic patients for a real server: one family, an identifier of its own."""
    from console.sandbox.patients import generate_patients

    return [
        {
            **resource,
            "name": [{**resource["name"][0], "family": BENCH_FAMILY}],
            "identifier": [{"system": BENCH_IDENTIFIER_SYSTEM, "value": f"bench-{index}"}],
        }
        for index, resource in enumerate(generate_patients(BENCH_PATIENTS, seed=8))
    ]


def load_bench_data(servers: RealServers) -> tuple[list[str], dict[str, int]]:
    """Put the bench's patients on HAPI and letters for some on EHRbase (again: nothing new).

    Returns the patients' ids and, for those given letters, how many each has."""
    from console.fhir import FhirClient
    from console.openehr.client import EhrbaseClient
    from console.sandbox.letters import generate_letters, load_letters

    patients = bench_patients()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": patient,
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": (
                        f"identifier={BENCH_IDENTIFIER_SYSTEM}|{patient['identifier'][0]['value']}"
                    ),
                },
            }
            for patient in patients
        ],
    }
    fhir = FhirClient(servers.fhir_url, read_timeout=120.0)
    try:
        answer = fhir.transaction(bundle)
    finally:
        fhir.close()
    ids = [entry["response"]["location"].split("/")[1] for entry in answer.get("entry") or []]
    if len(ids) != len(patients):
        raise NotRun(f"HAPI answered {len(ids)} entries for {len(patients)} bench patients")
    ehrbase = EhrbaseClient(
        servers.ehrbase_url,
        user=servers.ehrbase_user,
        password=servers.ehrbase_password,
        admin_user=servers.ehrbase_admin_user,
        admin_password=servers.ehrbase_admin_password,
        read_timeout=60.0,
    )
    try:
        report = load_letters(ehrbase, ids[:LETTER_PATIENTS], namespace=BENCH_NAMESPACE, seed=8)
    finally:
        ehrbase.close()
    if report.failures:
        raise NotRun(f"letters not loaded into EHRbase: {report.failures[0]}")
    counts = {pid: len(generate_letters(pid, seed=8)) for pid in ids[:LETTER_PATIENTS]}
    return ids, {pid: count for pid, count in counts.items() if count}


@contextlib.contextmanager
def recorded_requests(prefixes: tuple[str, ...]) -> Iterator[list[requests.PreparedRequest]]:
    """Every request sent through ``requests`` to a URL starting with one of ``prefixes``."""
    seen: list[requests.PreparedRequest] = []
    original = HTTPAdapter.send

    def send(self: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kw: Any) -> Any:
        if str(request.url).startswith(prefixes):
            seen.append(request.copy())
        return original(self, request, *args, **kw)

    HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        HTTPAdapter.send = original  # type: ignore[method-assign]


def replay(session: requests.Session, sent: list[requests.PreparedRequest]) -> Callable[[], None]:
    """The recorded requests again, one after another, as one timed action."""

    def action() -> None:
        for request in sent:
            response = session.send(request.copy(), timeout=60)
            if response.status_code >= 400:
                raise NotRun(
                    f"replayed {request.method} {request.url} answered {response.status_code}"
                )

    return action
