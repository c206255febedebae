"""State shared by the benchmark sections of one run: workspace, emulators, the big database."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field
from typing import Any

from bench.core import NotRun
from bench.env import Workspace
from console.sandbox.server import EmulatorServer

SHARED_FAMILY = "Benchmark"
SHARED_FAMILY_COUNT = 60


# Request headers that change the work an upstream server does for the same URL (HAPI reuses a
# cached search result set unless the request says ``Cache-Control: no-cache``).
REPLAYED_HEADERS = ("Accept", "Cache-Control", "Prefer")


class QueryRecorder:
    """WSGI middleware remembering each upstream request's method, path and query string, and
    (in ``headers``, same order) the request headers a faithful replay must send again."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str, str]] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.seen.append(
            (
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", ""),
                environ.get("QUERY_STRING", ""),
            )
        )
        self.headers.append(
            {
                name: environ[key]
                for name in REPLAYED_HEADERS
                if (key := "HTTP_" + name.upper().replace("-", "_")) in environ
            }
        )
        return self.app(environ, start_response)

    def clear(self) -> None:
        """Forget what was seen."""
        self.seen.clear()
        self.headers.clear()


@dataclass
class Upstream:
    """A started emulator and the console config pointing at it."""

    server: EmulatorServer
    base_url: str
    config: dict[str, Any]
    recorder: QueryRecorder
    data: dict[str, Any] = field(default_factory=dict)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise NotRun(f"this build has no {name}") from exc
        raise


@dataclass
class Context:
    """Lazily started shared resources of one bench run."""

    args: argparse.Namespace
    workspace: Workspace = field(default_factory=Workspace)
    _hapi: Upstream | None = None
    _ehrbase: Upstream | None = None
    _scale: dict[str, Any] | None = None

    def hapi(self) -> Upstream:
        """The HAPI FHIR emulator with synthetic patients (started once)."""
        if self._hapi is None:
            hapi = _module("console.sandbox.hapi")
            generator = _module("console.sandbox.patients")
            server, base_url = hapi.start_hapi_emulator(port=0)
            resources = generator.generate_patients(self.args.patients, seed=8)
            ids = generator.load_patients(base_url, resources)
            patients = [{**r, "id": pid} for r, pid in zip(resources, ids, strict=True)]
            # Patients sharing one family name, so a results page can fill to any size.
            server.injector.app.seed(
                {**r, "name": [{**r["name"][0], "family": SHARED_FAMILY}], "identifier": []}
                for r in resources[:SHARED_FAMILY_COUNT]
            )
            recorder = QueryRecorder(server.injector.app)
            server.injector.app = recorder
            self._hapi = Upstream(
                server, base_url, {"FHIR_SERVER_URL": base_url}, recorder, {"patients": patients}
            )
        return self._hapi

    def ehrbase(self) -> Upstream:
        """The EHRbase emulator with letters for the synthetic patients (started once)."""
        if self._ehrbase is None:
            ehrbase = _module("console.sandbox.ehrbase")
            letters = _module("console.sandbox.letters")
            client_module = _module("console.openehr.client")
            (user, password), (admin, admin_password) = ehrbase.DEFAULT_USER, ehrbase.DEFAULT_ADMIN
            server, base_url = ehrbase.start_ehrbase_emulator(port=0)
            client = client_module.EhrbaseClient(
                base_url,
                user=user,
                password=password,
                admin_user=admin,
                admin_password=admin_password,
            )
            try:
                people = [
                    letters.SandboxPatient.from_fhir(p, p["id"])
                    for p in self.hapi().data["patients"]
                ]
                report = letters.load_letters(client, people, seed=8, workers=2)
            finally:
                client.close()
            recorder = QueryRecorder(server.injector.app)
            server.injector.app = recorder
            config = {
                "EHRBASE_URL": base_url,
                "EHRBASE_API_USER": user,
                "EHRBASE_API_PASSWORD": password,
                "EHRBASE_API_ADMIN_USER": admin,
                "EHRBASE_API_ADMIN_PASSWORD": admin_password,
            }
            self._ehrbase = Upstream(
                server, base_url, config, recorder, {"letters": report.letters_created}
            )
        return self._ehrbase

    def scale_database(self) -> dict[str, Any]:
        """The PostgreSQL auth database with many users and audit events (built once)."""
        if self._scale is None:
            from bench.populate import populate

            url = self.workspace.postgres_url()
            counts = populate(url, self.args.users, self.args.events)
            self._scale = {"url": url, **counts}
        return self._scale

    def close(self) -> None:
        """Stop the emulators and clean the workspace."""
        for upstream in (self._hapi, self._ehrbase):
            if upstream is not None:
                upstream.server.stop()
        self.workspace.close()
