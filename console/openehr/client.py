"""HTTP client of the EHRbase 2.x REST API (openEHR API under ``/rest/openehr/v1``).

The shared upstream transport (``console.upstream.transport``): one pooled session per client,
connect/read timeouts, an overall deadline and a response size cap, urllib3 ``Retry`` with
backoff for idempotent calls only (GET, and the read-only AQL query POST), a circuit breaker
so a dead server costs milliseconds, and typed errors (``console.openehr.errors``)
parsed from EHRbase's ``{"error", "message"}`` bodies. The API user's credentials are used for
everything except template uploads, which use the administrator's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import requests

from console.openehr import errors
from console.openehr.opt import check_opt
from console.upstream.transport import Breaker, ErrorKinds, Limits, RetryPolicy, Transport

API = "/rest/openehr/v1"
AQL_PATH = f"{API}/query/aql"
TEMPLATES_PATH = f"{API}/definition/template/adl1.4"
FLAT_MEDIA_TYPE = "application/openehr.wt.flat.schema+json"
RETRY_STATUSES = (502, 503, 504)
EHR_CACHE_SIZE = 4096
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

OnCall = Callable[[str, str, "int | None", float], None]


KINDS = ErrorKinds(
    unreachable=errors.EhrbaseUnreachable,
    timeout=errors.EhrbaseTimeout,
    breaker_open=errors.EhrbaseBreakerOpen,
    malformed=errors.EhrbaseMalformedResponse,
    too_large=errors.EhrbaseTooLarge,
)


@dataclass(frozen=True)
class ServerStatus:
    """``GET /rest/status``: the versions EHRbase reports."""

    ehrbase_version: str
    openehr_sdk_version: str | None
    archie_version: str | None
    postgres_version: str | None
    raw: dict[str, str]


@dataclass(frozen=True)
class Ehr:
    """An EHR as EHRbase describes it."""

    ehr_id: str
    system_id: str | None = None
    time_created: str | None = None
    ehr_status_id: str | None = None


@dataclass(frozen=True)
class CompositionRef:
    """Where a newly stored composition lives."""

    ehr_id: str
    uid: str
    version_uid: str


@dataclass(frozen=True)
class Composition:
    """A composition read by uid, with the version that was read."""

    ehr_id: str
    uid: str
    version_uid: str
    format: str
    body: dict[str, Any]

    @property
    def version(self) -> int:
        """The version number (the last part of the version uid)."""
        return version_of(self.version_uid)


@dataclass(frozen=True)
class ResultSet:
    """An AQL result set: columns (name, path) and rows."""

    q: str
    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        names = [name for name, _ in self.columns]
        return [dict(zip(names, row, strict=False)) for row in self.rows]


@dataclass(frozen=True)
class TemplateInfo:
    """One entry of ``GET /definition/template/adl1.4``."""

    template_id: str
    concept: str | None
    archetype_id: str | None
    created_timestamp: str | None


@dataclass(frozen=True)
class TemplateUpload:
    """The outcome of uploading (or re-uploading) an OPT."""

    template_id: str
    created: bool
    diagnostics: str = ""


def version_of(version_uid: str) -> int:
    """The version number of ``<uuid>::<system>::<n>`` (1 when there is none)."""
    tail = version_uid.rsplit("::", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 1


def _strip_etag(value: str | None) -> str:
    value = (value or "").strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


class EhrbaseClient:
    """Talks to one EHRbase server; thread-safe for concurrent requests."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str | None,
        password: str | None,
        admin_user: str | None = None,
        admin_password: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        pool_size: int = 10,
        breaker: Breaker | None = None,
        request_id: Callable[[], str | None] | None = None,
        on_call: OnCall | None = None,
        session: requests.Session | None = None,
        deadline: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        if not base_url:
            raise errors.EhrbaseNotConfigured()
        self.base_url = base_url.rstrip("/")
        self._auth = (user, password) if user else None
        self._admin_auth = (admin_user, admin_password) if admin_user else None
        self.breaker = breaker if breaker is not None else self._default_breaker()
        self.transport = Transport(
            limits=Limits(connect_timeout, read_timeout, deadline, max_bytes),
            retry=RetryPolicy(
                retries=retries,
                backoff_factor=backoff,
                statuses=RETRY_STATUSES,
                methods=IDEMPOTENT_METHODS,
                respect_retry_after=False,
                # An AQL query only reads, so its POST may be retried too.
                also={AQL_PATH: frozenset({"POST"})},
            ),
            kinds=KINDS,
            breaker=self.breaker,
            base_url=self.base_url,
            request_id=request_id,
            on_call=on_call,
            pool_size=pool_size,
            session=session,
            service="EHRbase",
        )
        self.session = self.transport.session
        self._ehrs: OrderedDict[tuple[str, str], Ehr] = OrderedDict()
        self._ehrs_lock = threading.Lock()

    @property
    def timeout(self) -> tuple[float, float]:
        """The connect and read timeouts."""
        return self.transport.timeout

    @staticmethod
    def _default_breaker() -> Breaker:
        from console.fhir.breaker import CircuitBreaker

        return CircuitBreaker(failure_threshold=5, reset_after_s=30.0)

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        admin: bool = False,
    ) -> requests.Response:
        """Send one call and return a 2xx response; raise the typed error otherwise."""
        url = self.base_url + path
        auth = self._admin_auth if admin else self._auth
        if admin and auth is None:
            raise errors.EhrbaseNotConfigured(
                "No EHRbase administrator credentials are configured "
                "(EHRBASE_API_ADMIN_USER and EHRBASE_API_ADMIN_PASSWORD).",
                method=method,
                url=url,
            )
        send_headers = {"Accept": "application/json"}
        if headers:
            send_headers.update(headers)
        response = self.transport.send(
            method,
            url,
            params=params,
            json_body=json_body,
            data=data,
            headers=send_headers,
            auth=auth,
        )
        if 200 <= response.status_code < 300:
            return response
        error = self._error_for(response, method, url)
        if error.upstream_fault and response.status_code < 500:
            self.breaker.record_failure()  # an unexpected 1xx/3xx: the server is not well
        raise error

    @staticmethod
    def _error_for(response: requests.Response, method: str, url: str) -> errors.EhrbaseError:
        status = response.status_code
        server_error, diagnostics = errors.parse_error_body(response.text[:20000])
        kwargs: dict[str, Any] = {
            "diagnostics": diagnostics.strip() or f"HTTP {status} {response.reason or ''}".strip(),
            "status": status,
            "method": method,
            "url": url,
            "server_error": server_error,
        }
        if status == 401:
            return errors.EhrbaseUnauthorised(**kwargs)
        if status == 403:
            return errors.EhrbaseForbidden(**kwargs)
        if status in (404, 410):
            return errors.EhrbaseNotFound(**kwargs)
        if status == 409:
            return errors.EhrbaseConflict(**kwargs)
        if 400 <= status < 500:
            return errors.EhrbaseRejected(**kwargs)
        if status >= 500:
            return errors.EhrbaseServerError(**kwargs)
        return errors.EhrbaseMalformedResponse(
            f"Unexpected answer from the clinical records server (HTTP {status}).", **kwargs
        )

    def _json(self, response: requests.Response) -> Any:
        try:
            return self.transport.json(response, what="EHRbase answer")
        except errors.EhrbaseMalformedResponse:
            self.breaker.record_failure()
            raise

    def _malformed(self, response: requests.Response, what: str) -> errors.EhrbaseMalformedResponse:
        self.breaker.record_failure()
        return errors.EhrbaseMalformedResponse(
            diagnostics=f"{what}: {response.text[:2000]}",
            status=response.status_code,
            method=response.request.method,
            url=response.url,
        )

    # -- status --------------------------------------------------------------------------------

    def status(self) -> ServerStatus:
        """The server's versions (``GET /rest/status`` asking for JSON)."""
        response = self._request("GET", "/rest/status")
        content_type = response.headers.get("Content-Type", "")
        if "xml" in content_type:
            try:
                root = ElementTree.fromstring(response.text)  # noqa: S314 - server's own status
            except ElementTree.ParseError:
                raise self._malformed(response, "status is not XML") from None
            raw = {child.tag: (child.text or "") for child in root}
        else:
            data = self._json(response)
            if not isinstance(data, dict):
                raise self._malformed(response, "status is not an object")
            raw = {str(k): str(v) for k, v in data.items()}
        if "ehrbase_version" not in raw:
            raise self._malformed(response, "status has no ehrbase_version")
        return ServerStatus(
            ehrbase_version=raw["ehrbase_version"],
            openehr_sdk_version=raw.get("openehr_sdk_version"),
            archie_version=raw.get("archie_version"),
            postgres_version=raw.get("postgres_version"),
            raw=raw,
        )

    # -- EHRs ----------------------------------------------------------------------------------

    def _ehr_from(self, response: requests.Response) -> Ehr:
        data = self._json(response)
        try:
            return Ehr(
                ehr_id=data["ehr_id"]["value"],
                system_id=(data.get("system_id") or {}).get("value"),
                time_created=(data.get("time_created") or {}).get("value"),
                ehr_status_id=((data.get("ehr_status") or {}).get("id") or {}).get("value"),
            )
        except (KeyError, TypeError, AttributeError):
            raise self._malformed(response, "EHR without ehr_id") from None

    def find_ehr(self, subject_id: str, namespace: str) -> Ehr | None:
        """The EHR of a subject, or None when there is none yet (a normal state)."""
        try:
            response = self._request(
                "GET",
                f"{API}/ehr",
                params={"subject_id": subject_id, "subject_namespace": namespace},
            )
        except errors.EhrbaseNotFound:
            return None
        return self._ehr_from(response)

    def ehr_of(self, subject_id: str, namespace: str) -> Ehr | None:
        """``find_ehr``, remembered once found: a subject's EHR never changes its id, so the
        letter pages need not ask again for every page (at most ``EHR_CACHE_SIZE`` kept)."""
        key = (subject_id, namespace)
        with self._ehrs_lock:
            if key in self._ehrs:
                self._ehrs.move_to_end(key)
                return self._ehrs[key]
        found = self.find_ehr(subject_id, namespace)
        if found is not None:
            with self._ehrs_lock:
                self._ehrs[key] = found
                while len(self._ehrs) > EHR_CACHE_SIZE:
                    self._ehrs.popitem(last=False)
        return found

    def get_ehr(self, ehr_id: str) -> Ehr:
        """An EHR by id; raises ``EhrbaseNotFound``."""
        return self._ehr_from(self._request("GET", f"{API}/ehr/{quote(ehr_id, safe='')}"))

    def create_ehr(self, subject_id: str, namespace: str, *, scheme: str = "fhir") -> Ehr:
        """Create the subject's EHR; when another process won the race (409), read theirs."""
        return self._create_or_read_ehr(subject_id, namespace, scheme)[0]

    def _create_or_read_ehr(
        self, subject_id: str, namespace: str, scheme: str = "fhir"
    ) -> tuple[Ehr, bool]:
        """The subject's EHR and whether this call created it (False after a 409 re-read)."""
        body = {
            "_type": "EHR_STATUS",
            "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
            "name": {"_type": "DV_TEXT", "value": "EHR Status"},
            "subject": {
                "_type": "PARTY_SELF",
                "external_ref": {
                    "_type": "PARTY_REF",
                    "id": {"_type": "GENERIC_ID", "value": subject_id, "scheme": scheme},
                    "namespace": namespace,
                    "type": "PERSON",
                },
            },
            "is_modifiable": True,
            "is_queryable": True,
        }
        try:
            response = self._request(
                "POST",
                f"{API}/ehr",
                json_body=body,
                headers={"Prefer": "return=representation"},
            )
        except errors.EhrbaseConflict:
            existing = self.find_ehr(subject_id, namespace)
            if existing is None:
                raise
            return existing, False
        if response.content.strip():
            return self._ehr_from(response), True
        # A server that ignored Prefer: the id is in the ETag (and the Location).
        ehr_id = (
            _strip_etag(response.headers.get("ETag"))
            or response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
        )
        if not ehr_id:
            raise self._malformed(response, "EHR created without ETag or Location")
        return self.get_ehr(ehr_id), True

    def ensure_ehr(self, subject_id: str, namespace: str) -> tuple[Ehr, bool]:
        """The subject's EHR and whether it was created now (not when another process won)."""
        found = self.find_ehr(subject_id, namespace)
        if found is not None:
            return found, False
        return self._create_or_read_ehr(subject_id, namespace)

    # -- compositions --------------------------------------------------------------------------

    def create_composition(
        self, ehr_id: str, template_id: str, composition: dict[str, Any], *, fmt: str = "FLAT"
    ) -> CompositionRef:
        """Store a composition (FLAT by default, or canonical ``JSON``); never retried."""
        response = self._request(
            "POST",
            f"{API}/ehr/{quote(ehr_id, safe='')}/composition",
            params={"templateId": template_id, "format": fmt},
            json_body=composition,
            headers={"Prefer": "return=minimal"},
        )
        version_uid = _strip_etag(response.headers.get("ETag"))
        if "::" not in version_uid:
            location = response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
            version_uid = version_uid or location
        if not version_uid:
            raise self._malformed(response, "composition stored without ETag or Location")
        return CompositionRef(
            ehr_id=ehr_id, uid=version_uid.split("::", 1)[0], version_uid=version_uid
        )

    def get_composition(self, ehr_id: str, uid: str, *, fmt: str = "JSON") -> Composition:
        """A composition by uid (latest version) or version uid, as canonical JSON or FLAT.

        Raises ``EhrbaseNotFound`` when it is not in this EHR and ``CompositionDeleted`` when
        it was deleted.
        """
        fmt = fmt.upper()
        accept = FLAT_MEDIA_TYPE if fmt == "FLAT" else "application/json"
        response = self._request(
            "GET",
            f"{API}/ehr/{quote(ehr_id, safe='')}/composition/{quote(uid, safe=':')}",
            params={"format": fmt},
            headers={"Accept": f"{accept}, application/json;q=0.9"},
        )
        if response.status_code == 204 or not response.content.strip():
            raise errors.CompositionDeleted(
                diagnostics=f"HTTP {response.status_code}: the composition {uid} is deleted",
                status=response.status_code,
                method="GET",
                url=response.url,
            )
        body = self._json(response)
        if not isinstance(body, dict):
            raise self._malformed(response, "composition is not an object")
        version_uid = _strip_etag(response.headers.get("ETag"))
        if "::" not in version_uid:
            version_uid = (body.get("uid") or {}).get("value") or uid
        return Composition(
            ehr_id=ehr_id,
            uid=version_uid.split("::", 1)[0],
            version_uid=version_uid,
            format=fmt,
            body=body,
        )

    def delete_composition(self, ehr_id: str, version_uid: str) -> None:
        """Delete a composition, naming the version being deleted."""
        self._request(
            "DELETE",
            f"{API}/ehr/{quote(ehr_id, safe='')}/composition/{quote(version_uid, safe=':')}",
        )

    def composition_belongs_to(self, version_uid: str, *, ehr_id: str) -> bool:
        """True when the composition version is in this EHR (asked with a parameterised AQL)."""
        result = self.query(
            "SELECT c/uid/value AS uid FROM EHR e CONTAINS COMPOSITION c "
            "WHERE e/ehr_id/value = $ehr_id AND c/uid/value = $uid",
            {"ehr_id": ehr_id, "uid": version_uid},
            fetch=1,
        )
        return any(row and row[0] == version_uid for row in result.rows)

    # -- AQL -----------------------------------------------------------------------------------

    def query(
        self,
        q: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        offset: int | None = None,
        fetch: int | None = None,
    ) -> ResultSet:
        """Run an AQL query. Values go ONLY in ``parameters`` (``$name`` in the query)."""
        body: dict[str, Any] = {"q": q, "query_parameters": dict(parameters or {})}
        if offset is not None:
            body["offset"] = offset
        if fetch is not None:
            body["fetch"] = fetch
        response = self._request("POST", AQL_PATH, json_body=body)
        data = self._json(response)
        if not isinstance(data, dict):
            raise self._malformed(response, "result set is not an object")
        columns = data.get("columns")
        rows = data.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise self._malformed(response, "result set without columns and rows")
        try:
            parsed = [(str(c["name"]), str(c.get("path", ""))) for c in columns]
        except (KeyError, TypeError, AttributeError):
            raise self._malformed(response, "result set columns without names") from None
        if any(not isinstance(row, list) for row in rows):
            raise self._malformed(response, "result set row is not a list")
        return ResultSet(
            q=str(data.get("q", q)), columns=parsed, rows=rows, meta=data.get("meta") or {}
        )

    # -- templates -----------------------------------------------------------------------------

    def list_templates(self) -> list[TemplateInfo]:
        """The ADL 1.4 templates on the server."""
        response = self._request("GET", TEMPLATES_PATH)
        data = self._json(response)
        if not isinstance(data, list):
            raise self._malformed(response, "template list is not an array")
        templates = []
        for item in data:
            if not isinstance(item, dict) or "template_id" not in item:
                raise self._malformed(response, "template entry without template_id")
            templates.append(
                TemplateInfo(
                    template_id=str(item["template_id"]),
                    concept=item.get("concept"),
                    archetype_id=item.get("archetype_id"),
                    created_timestamp=item.get("created_timestamp"),
                )
            )
        return templates

    def upload_template(self, opt: bytes | str) -> TemplateUpload:
        """Check an OPT and upload it with the administrator credentials.

        Raises ``TemplateInvalid`` before sending anything when the checks fail,
        ``TemplateAlreadyExists`` on 409, and ``EhrbaseRejected`` with EHRbase's verbatim
        diagnostics when the server refuses it.
        """
        summary = check_opt(opt)
        payload = opt.encode("utf-8") if isinstance(opt, str) else opt
        try:
            self._request(
                "POST",
                TEMPLATES_PATH,
                data=payload,
                headers={"Content-Type": "application/xml", "Accept": "application/xml, */*;q=0.5"},
                admin=True,
            )
        except errors.EhrbaseConflict as exc:
            raise errors.TemplateAlreadyExists(
                summary.template_id,
                diagnostics=exc.diagnostics,
                status=exc.status,
                method=exc.method,
                url=exc.url,
                server_error=exc.server_error,
            ) from None
        return TemplateUpload(template_id=summary.template_id, created=True)

    def ensure_template(self, opt: bytes | str) -> TemplateUpload:
        """Upload an OPT unless the server already has it (409 counts as success)."""
        try:
            return self.upload_template(opt)
        except errors.TemplateAlreadyExists as exc:
            return TemplateUpload(
                template_id=exc.template_id, created=False, diagnostics=exc.diagnostics
            )

    def _template_path(self, template_id: str) -> str:
        return f"{TEMPLATES_PATH}/{quote(template_id, safe='')}"

    def get_template_opt(self, template_id: str) -> str:
        """A template's OPT XML."""
        response = self._request(
            "GET", self._template_path(template_id), headers={"Accept": "application/xml"}
        )
        return response.text

    def get_web_template(self, template_id: str) -> dict[str, Any]:
        """A template's web template (JSON)."""
        response = self._request("GET", self._template_path(template_id))
        data = self._json(response)
        if not isinstance(data, dict):
            raise self._malformed(response, "web template is not an object")
        return data

    def template_example(self, template_id: str, *, fmt: str = "FLAT") -> dict[str, Any]:
        """An example composition the server generates for a template."""
        accept = FLAT_MEDIA_TYPE if fmt.upper() == "FLAT" else "application/json"
        response = self._request(
            "GET",
            self._template_path(template_id) + "/example",
            params={"format": fmt.upper()},
            headers={"Accept": f"{accept}, application/json;q=0.9, */*;q=0.1"},
        )
        data = self._json(response)
        if not isinstance(data, dict):
            raise self._malformed(response, "example is not an object")
        return data
