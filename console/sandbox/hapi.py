"""A HAPI FHIR JPA server (R4, 8.x) emulator: what the console uses, answered the way HAPI answers.

Served by ``EmulatorServer`` (real HTTP on loopback, fault injection). Base path ``/fhir``.

* ``GET /fhir/metadata``: CapabilityStatement (software "HAPI FHIR Server" 8.8.0).
* ``GET /fhir/Patient/{id}`` (and ``/_history/{v}``): ETag ``W/"n"``, Last-Modified,
  Content-Location; 404 ``HAPI-2001: Resource Patient/x is not known``; 410 ``Resource was
  deleted at …``.
* ``GET /fhir/Patient?…``: searchset Bundles. String parameters (``name``, ``family``,
  ``given``, ``address…``) are case- and accent-insensitive prefix matches on each name
  part, with ``:exact`` and ``:contains``; ``birthdate`` with every prefix and implicit
  precision; tokens ``gender``, ``identifier=system|value``, ``_id``; repeats mean AND and
  commas OR. ``total`` only for small result sets (HAPI's first prefetch threshold, 13) or
  ``_total=accurate``; ``self`` link with the parameters sorted; ``next``/``previous`` in
  HAPI's ``<base>?_getpages=<id>&_getpagesoffset=N&_count=M[&_pretty=true]&_bundletype=searchset``
  form (``_pretty=true`` while pretty printing is in effect: the starter's default).
  Identical searches within 60 s reuse the cached result set unless the request says
  ``Cache-Control: no-cache``. Unknown parameter → 400 HAPI-0524; bad date → 400
  HAPI-1882; unknown ``_sort`` → 400; expired ``_getpages`` id → 410 (HAPI's
  PageMethodBinding raises ResourceGoneException).
* ``POST /fhir/Patient`` (201; ``If-None-Exist`` → 200 on one match, 412 on several),
  ``PUT /fhir/Patient/{id}`` (``If-Match`` stale → 409; unchanged content is a no-op),
  ``DELETE /fhir/Patient/{id}``, and ``POST /fhir`` with a transaction or batch Bundle.

``HapiEmulator.seed()`` stores resources directly (fast, for the sandbox and tests).
"""

from __future__ import annotations

import copy
import html
import json
import re
import secrets
import string
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from console.sandbox.server import EmulatorServer

HAPI_VERSION = "8.8.0"
POWERED_BY = f"HAPI FHIR {HAPI_VERSION} REST Server (FHIR Server; FHIR 4.0.1/R4)"
CONTENT_TYPE = "application/fhir+json;charset=utf-8"
BASE_PATH = "/fhir"

PATIENT_SEARCH_PARAMETERS = (
    "_id", "_lastUpdated", "_profile", "_security", "_source", "_tag", "active", "address",
    "address-city", "address-country", "address-postalcode", "address-state", "address-use",
    "birthdate", "death-date", "deceased", "email", "family", "gender", "general-practitioner",
    "given", "identifier", "language", "link", "name", "organization", "phone", "phonetic",
    "telecom",
)  # fmt: skip
"""As HAPI lists them in its errors; ``_content`` and ``_text`` need the full-text index, which
the compose service runs without (``hibernate.search.enabled: false``)."""
FULLTEXT_PARAMETERS = ("_content", "_text")
RESULT_PARAMETERS = (
    "_count", "_sort", "_total", "_format", "_pretty", "_summary", "_elements", "_offset",
    "_include", "_revinclude",
)  # fmt: skip
SORTABLE = frozenset(PATIENT_SEARCH_PARAMETERS)
INTERACTIONS = (
    "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
    "search-type",
)  # fmt: skip
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
DATE_VALUE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
SEARCH_CACHE_S = 60.0
REQUEST_ID_ALPHABET = string.ascii_letters + string.digits
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
XHTML_DIV = '<div xmlns="http://www.w3.org/1999/xhtml">'


class FhirHttpError(Exception):
    """An error answered as an OperationOutcome."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        code: str = "processing",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.headers = headers or {}


def outcome(diagnostics: str, severity: str = "error", code: str = "processing") -> dict:
    """An OperationOutcome with one issue, as HAPI writes it (no id, no text)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def normalise(text: str) -> str:
    """HAPI's string index normalisation: accents removed, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def split_unescaped(value: str, separator: str) -> list[str]:
    """Split on ``separator`` except where escaped with a backslash; unescape the parts."""
    parts, current, index = [], [], 0
    while index < len(value):
        ch = value[index]
        if ch == "\\" and index + 1 < len(value):
            current.append(value[index + 1])
            index += 2
            continue
        if ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        index += 1
    parts.append("".join(current))
    return parts


def _split_token(value: str) -> tuple[str | None, str]:
    """``system|value`` → (system, value); ``value`` → (None, value); escapes honoured."""
    index = 0
    while index < len(value):
        if value[index] == "\\":
            index += 2
            continue
        if value[index] == "|":
            return _unescape(value[:index]), _unescape(value[index + 1 :])
        index += 1
    return None, _unescape(value)


def _unescape(value: str) -> str:
    return split_unescaped(value, "\x00")[0]


@dataclass
class DateRange:
    """A date with its implicit precision, as a closed interval of days."""

    low: date
    high: date

    @classmethod
    def parse(cls, text: str) -> DateRange | None:
        match = DATE_VALUE.match(text)
        if not match:
            return None
        year, month, day = match.groups()
        try:
            if day:
                start = date(int(year), int(month), int(day))
                return cls(start, start)
            if month:
                start = date(int(year), int(month), 1)
                following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
                return cls(start, following - timedelta(days=1))
            return cls(date(int(year), 1, 1), date(int(year), 12, 31))
        except ValueError:
            return None


def date_matches(prefix: str, param: DateRange, target: DateRange, today: date) -> bool:
    """FHIR date comparison of a resource's range against the parameter's range."""
    if prefix == "eq":
        return param.low <= target.low and target.high <= param.high
    if prefix == "ne":
        return not (param.low <= target.low and target.high <= param.high)
    if prefix == "gt":
        return target.high > param.high
    if prefix == "lt":
        return target.low < param.low
    if prefix == "ge":
        return target.high >= param.low
    if prefix == "le":
        return target.low <= param.high
    if prefix == "sa":
        return target.low > param.high
    if prefix == "eb":
        return target.high < param.low
    # ap: within 10% of the distance between the value and now (at least a day).
    slack = max(timedelta(days=1), abs(today - param.low) / 10)
    return target.high >= param.low - slack and target.low <= param.high + slack


@dataclass
class Stored:
    """A resource with its version history."""

    resource_type: str
    id: str
    sequence: int
    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted_at: str | None = None

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def version(self) -> int:
        return len(self.versions)


@dataclass
class CachedSearch:
    """A search's result set, kept for paging."""

    id: str
    ids: list[str]
    created: float
    key: str
    include_total: bool


@dataclass
class Answer:
    """A response to be written."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
    422: "Unprocessable Entity", 500: "Internal Server Error",
}  # fmt: skip


class HapiEmulator:
    """The WSGI application. Thread-safe; state lives in memory."""

    def __init__(
        self,
        *,
        total_threshold: int = 13,
        default_page_size: int = 20,
        default_pretty_print: bool = True,
        first_id: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.total_threshold = total_threshold
        self.default_page_size = default_page_size
        self.default_pretty_print = default_pretty_print
        self.clock = clock
        self._lock = threading.RLock()
        self._resources: dict[tuple[str, str], Stored] = {}
        self._searches: dict[str, CachedSearch] = {}
        self._first_id = first_id
        self._next_id = first_id
        self._sequence = 0
        #: Fault: every read of a Patient answers with this Patient instead (as a server bug or
        #: a proxy caching the wrong answer would); None (the default) answers truthfully.
        self.read_answers_with: str | None = None

    # -- direct access for tests and the sandbox ---------------------------------------

    def seed(self, resources: Iterable[dict[str, Any]]) -> list[str]:
        """Store resources as if POSTed (server-assigned ids); returns the ids."""
        with self._lock:
            return [self._store_new(copy.deepcopy(resource))[0].id for resource in resources]

    def reset(self) -> None:
        """Forget every resource and search (a fresh, empty server)."""
        with self._lock:
            self._resources.clear()
            self._searches.clear()
            self._next_id = self._first_id
            self._sequence = 0
            self.read_answers_with = None

    def delete(self, resource_type: str, resource_id: str) -> None:
        """Delete a resource as ``DELETE`` would (reads then answer 410)."""
        with self._lock:
            self._delete(resource_type, resource_id, "")

    def expire_searches(self) -> None:
        """Forget every cached search, as HAPI does after its expiry time."""
        with self._lock:
            self._searches.clear()

    def resource(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The current version of a stored (not deleted) resource, or None."""
        with self._lock:
            stored = self._resources.get((resource_type, resource_id))
            if stored is None or stored.deleted_at:
                return None
            return copy.deepcopy(stored.current)

    def count(self, resource_type: str = "Patient") -> int:
        """How many live resources of a type are stored."""
        with self._lock:
            return sum(
                1
                for (kind, _), stored in self._resources.items()
                if kind == resource_type and not stored.deleted_at
            )

    # -- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        request_id = environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex[:16]
        try:
            answer = self._dispatch(environ)
        except FhirHttpError as exc:
            answer = Answer(exc.status, outcome(exc.diagnostics, code=exc.code), exc.headers)
        if answer.body is not None:
            answer.body = with_narrative(answer.body)
        pretty = self._pretty(environ)
        if answer.body is None:
            payload = b""
        elif pretty:
            payload = json.dumps(answer.body, indent=2, ensure_ascii=False).encode()
        else:
            payload = json.dumps(answer.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = [("X-Powered-By", POWERED_BY), ("X-Request-ID", request_id)]
        if answer.body is not None:
            headers.append(("Content-Type", CONTENT_TYPE))
        headers.extend(answer.headers.items())
        headers.append(("Content-Length", str(len(payload))))
        reason = REASONS.get(answer.status, "Unknown")
        start_response(f"{answer.status} {reason}", headers)
        return [payload]

    def _dispatch(self, environ: dict[str, Any]) -> Answer:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        query = [
            (key, value)
            for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        ]
        base = self._base_url(environ)
        if path != BASE_PATH and not path.startswith(BASE_PATH + "/"):
            return Answer(404, outcome(f"No FHIR server at {path}"))
        parts = [part for part in path[len(BASE_PATH) :].split("/") if part]
        if not parts:
            if method == "GET" and any(key == "_getpages" for key, _ in query):
                return self._get_page(query, base, environ)
            if method == "POST":
                return self._transaction(self._read_body(environ, "TRANSACTION"), base, environ)
            raise FhirHttpError(
                400,
                "HAPI-0335: This is the base URL of FHIR server. Unable to handle this request, "
                "as it does not contain a resource type or operation name.",
            )
        if parts == ["metadata"] and method == "GET":
            return Answer(200, self._capability_statement(base))
        resource_type = parts[0]
        if resource_type != "Patient":
            raise FhirHttpError(
                404,
                f"HAPI-0302: Unknown resource type '{resource_type}' - Server knows how to "
                "handle: [Patient]",
                code="not-found",
            )
        if len(parts) == 1 and method == "GET":
            return self._search(
                query, base, no_cache=self._no_cache(environ), pretty=self._pretty(environ)
            )
        if len(parts) == 1 and method == "POST":
            resource = self._read_body(environ, "CREATE", expected_type="Patient")
            with self._lock:
                return self._create(
                    resource,
                    if_none_exist=environ.get("HTTP_IF_NONE_EXIST"),
                    base=base,
                    prefer=environ.get("HTTP_PREFER", ""),
                )
        if len(parts) == 2 and method == "GET":
            return self._read(resource_type, parts[1], base)
        if len(parts) == 4 and parts[2] == "_history" and method == "GET":
            return self._read(resource_type, parts[1], base, version=parts[3])
        if len(parts) == 2 and method == "PUT":
            resource = self._read_body(environ, "UPDATE", expected_type="Patient")
            with self._lock:
                return self._update(
                    resource_type,
                    parts[1],
                    resource,
                    if_match=environ.get("HTTP_IF_MATCH"),
                    base=base,
                    prefer=environ.get("HTTP_PREFER", ""),
                )
        if len(parts) == 2 and method == "DELETE":
            with self._lock:
                return self._delete(resource_type, parts[1], base)
        raise FhirHttpError(
            400,
            "HAPI-0302: Invalid request: The FHIR endpoint on this server does not know how to "
            f"handle {method} operation[{'/'.join(parts)}] with parameters "
            f"[[{', '.join(key for key, _ in query)}]]",
        )

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _base_url(environ: dict[str, Any]) -> str:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{BASE_PATH}"

    def _pretty(self, environ: dict[str, Any]) -> bool:
        """HAPI's prettyPrintResponse: ``_pretty`` if given, else the server default (the
        starter's is true) or an Accept naming html."""
        values = [v for k, v in parse_qsl(environ.get("QUERY_STRING", "")) if k == "_pretty"]
        if values:
            return values[0] == "true"
        return self.default_pretty_print or "html" in environ.get("HTTP_ACCEPT", "")

    @staticmethod
    def _no_cache(environ: dict[str, Any]) -> bool:
        return "no-cache" in environ.get("HTTP_CACHE_CONTROL", "").lower()

    def _now(self) -> tuple[str, datetime]:
        moment = datetime.fromtimestamp(self.clock(), tz=UTC)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"
        return text, moment

    @staticmethod
    def _read_body(
        environ: dict[str, Any], operation: str, expected_type: str | None = None
    ) -> dict[str, Any]:
        content_type = environ.get("CONTENT_TYPE", "")
        if not content_type:
            raise FhirHttpError(
                400,
                "HAPI-0448: No Content-Type header was provided in the request. This is "
                f'required for "{operation}" operation',
            )
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in ("application/fhir+json", "application/json", "application/json+fhir"):
            raise FhirHttpError(
                400,
                f'HAPI-0446: Incorrect Content-Type header value of "{content_type}" was provided '
                f'in the request. A FHIR Content-Type is required for "{operation}" operation',
            )
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            raise FhirHttpError(
                400,
                "HAPI-0450: Failed to parse request body as JSON resource. Error was: "
                f"HAPI-1861: Failed to parse JSON encoded FHIR content: {exc}",
            ) from None
        if not isinstance(body, dict) or "resourceType" not in body:
            raise FhirHttpError(
                400,
                "HAPI-0450: Failed to parse request body as JSON resource. Error was: "
                "HAPI-1838: Invalid JSON content detected, missing required element: "
                "'resourceType'",
            )
        if expected_type and body["resourceType"] != expected_type:
            raise FhirHttpError(
                400,
                "HAPI-0450: Failed to parse request body as JSON resource. Error was: "
                f'HAPI-1843: Incorrect resource type found, expected "{expected_type}" but '
                f'found "{body["resourceType"]}"',
            )
        return body

    def _resource_headers(self, stored: Stored, base: str, version: int | None = None) -> dict:
        number = version or stored.version
        resource = stored.versions[number - 1]
        moment = datetime.fromisoformat(resource["meta"]["lastUpdated"])
        return {
            "ETag": f'W/"{number}"',
            "Last-Modified": format_datetime(moment.astimezone(UTC), usegmt=True),
            "Content-Location": f"{base}/{stored.resource_type}/{stored.id}/_history/{number}",
        }

    # -- read, create, update, delete --------------------------------------------------

    def _read(self, resource_type: str, resource_id: str, base: str, version: str = "") -> Answer:
        if resource_type == "Patient" and self.read_answers_with is not None:
            resource_id = self.read_answers_with
        with self._lock:
            stored = self._resources.get((resource_type, resource_id))
            if stored is None:
                raise FhirHttpError(
                    404, f"HAPI-2001: Resource {resource_type}/{resource_id} is not known"
                )
            if version:
                if not version.isdigit() or not 1 <= int(version) <= stored.version:
                    raise FhirHttpError(
                        404,
                        f'HAPI-0979: Version "{version}" is not valid for resource '
                        f"{resource_type}/{resource_id}",
                    )
                number = int(version)
            else:
                if stored.deleted_at:
                    # HAPI names the deletion's own version (the one after the last).
                    gone = f"{base}/{resource_type}/{resource_id}/_history/{stored.version + 1}"
                    raise FhirHttpError(
                        410,
                        f"Resource was deleted at {stored.deleted_at}",
                        headers={"Location": gone},
                    )
                number = stored.version
            return Answer(
                200,
                copy.deepcopy(stored.versions[number - 1]),
                self._resource_headers(stored, base, number),
            )

    def _stamp(self, resource: dict[str, Any], resource_id: str, version: int) -> None:
        now, _ = self._now()
        meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
        source = str(meta.get("source") or "").split("#", 1)[0]
        meta = {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated", "source")}
        resource["id"] = resource_id
        # HAPI records the writing request's id as the source (after the client's own, if any).
        request_id = "".join(secrets.choice(REQUEST_ID_ALPHABET) for _ in range(16))
        resource["meta"] = {
            "versionId": str(version),
            "lastUpdated": now,
            "source": f"{source}#{request_id}",
            **meta,
        }
        ordered = {"resourceType": resource.pop("resourceType"), "id": resource.pop("id")}
        ordered["meta"] = resource.pop("meta")
        ordered.update(resource)
        resource.clear()
        resource.update(ordered)

    def _store_new(
        self, resource: dict[str, Any], resource_id: str | None = None
    ) -> tuple[Stored, dict[str, Any]]:
        if resource_id is None:
            resource_id = str(self._next_id)
            self._next_id += 1
        self._sequence += 1
        resource_type = resource["resourceType"]
        stored = Stored(resource_type, resource_id, self._sequence)
        self._stamp(resource, resource_id, 1)
        stored.versions.append(resource)
        self._resources[(resource_type, resource_id)] = stored
        return stored, resource

    def _write_answer(
        self, status: int, stored: Stored, base: str, prefer: str, message: str
    ) -> Answer:
        headers = self._resource_headers(stored, base)
        headers["Location"] = headers["Content-Location"]
        if "return=minimal" in prefer:
            return Answer(status, None, headers)
        if "return=OperationOutcome" in prefer:
            return Answer(
                status, outcome(message, severity="information", code="informational"), headers
            )
        return Answer(status, copy.deepcopy(stored.current), headers)

    def _create(
        self,
        resource: dict[str, Any],
        *,
        if_none_exist: str | None,
        base: str,
        prefer: str = "",
    ) -> Answer:
        resource_type = resource["resourceType"]
        if if_none_exist:
            match_url = if_none_exist.strip()
            criteria = match_url.split("?", 1)[1] if "?" in match_url else match_url
            matches = self._matching_ids(parse_qsl(criteria, keep_blank_values=False))
            if len(matches) > 1:
                raise FhirHttpError(
                    412,
                    f'HAPI-0958: Failed to CREATE resource with match URL "{match_url}" because '
                    f"this search matched {len(matches)} resources",
                )
            if matches:
                stored = self._resources[(resource_type, matches[0])]
                return self._write_answer(
                    200,
                    stored,
                    base,
                    prefer,
                    f'Successfully conditionally created resource "{resource_type}/{stored.id}/'
                    f'_history/{stored.version}". Existing resource matched URL "{match_url}".',
                )
        resource = copy.deepcopy(resource)
        resource.pop("id", None)  # HAPI ignores an id in a POST body
        stored, _ = self._store_new(resource)
        return self._write_answer(
            201,
            stored,
            base,
            prefer,
            f'Successfully created resource "{resource_type}/{stored.id}/_history/1". Took 3ms.',
        )

    def _update(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        if_match: str | None,
        base: str,
        prefer: str = "",
    ) -> Answer:
        body_id = resource.get("id")
        if not body_id:
            raise FhirHttpError(
                400,
                "HAPI-0419: Can not update resource, resource body must contain an ID element "
                "for update (PUT) operation",
            )
        if body_id != resource_id:
            raise FhirHttpError(
                400,
                "HAPI-0420: Can not update resource, resource body must contain an ID element "
                "which matches the request URL for update (PUT) operation - Resource body ID of "
                f'"{body_id}" does not match URL ID of "{resource_id}"',
            )
        if not FHIR_ID.match(resource_id):
            raise FhirHttpError(
                400,
                f"HAPI-0521: Can not process entity with ID[{resource_id}], this is not a valid "
                "FHIR ID",
            )
        stored = self._resources.get((resource_type, resource_id))
        resource = copy.deepcopy(resource)
        if stored is None:
            if resource_id.isdigit():
                raise FhirHttpError(
                    400,
                    f"HAPI-0960: Can not create resource with ID[{resource_id}], no resource "
                    "with this ID exists and clients may only assign IDs which contain at least "
                    "one non-numeric character",
                )
            stored, _ = self._store_new(resource, resource_id)
            return self._write_answer(201, stored, base, prefer, "Successfully created resource")
        if if_match:
            wanted = if_match.strip().removeprefix("W/").strip('"')
            if wanted != str(stored.version):
                raise FhirHttpError(
                    409,
                    f"HAPI-0550: HAPI-0989: Trying to update {resource_type}/{resource_id}/"
                    f"_history/{wanted} but this is not the current version",
                )
        if not stored.deleted_at and _content(stored.current) == _content(resource):
            return self._write_answer(200, stored, base, prefer, "No changes detected")
        stored.deleted_at = None
        self._stamp(resource, resource_id, stored.version + 1)
        stored.versions.append(resource)
        return self._write_answer(
            200,
            stored,
            base,
            prefer,
            f'Successfully updated resource "{resource_type}/{resource_id}/_history/'
            f'{stored.version}". Took 4ms.',
        )

    def _delete(self, resource_type: str, resource_id: str, base: str) -> Answer:
        stored = self._resources.get((resource_type, resource_id))
        if stored is None:
            raise FhirHttpError(
                404, f"HAPI-2001: Resource {resource_type}/{resource_id} is not known"
            )
        if not stored.deleted_at:
            stored.deleted_at, _ = self._now()
        deleted = outcome(
            "Successfully deleted 1 resource(s). Took 3ms.",
            severity="information",
            code="informational",
        )
        deleted["issue"][0] = {
            **{k: v for k, v in deleted["issue"][0].items() if k != "diagnostics"},
            "details": {
                "coding": [
                    {
                        "system": "https://hapifhir.io/fhir/CodeSystem/hapi-fhir-storage-response-code",
                        "code": "SUCCESSFUL_DELETE",
                        "display": "Delete succeeded.",
                    }
                ]
            },
            "diagnostics": deleted["issue"][0]["diagnostics"],
        }
        location = f"{base}/{resource_type}/{resource_id}/_history/{stored.version + 1}"
        return Answer(200, deleted, {"Content-Location": location})

    # -- search ------------------------------------------------------------------------

    def _search(
        self,
        query: list[tuple[str, str]],
        base: str,
        *,
        no_cache: bool,
        pretty: bool | None = None,
    ) -> Answer:
        params = [(key, value) for key, value in query if value != ""]
        self._validate(params)
        options = dict(params)
        count = self._count(options)
        total_mode = options.get("_total", "")
        if total_mode not in ("", "accurate", "none", "estimated"):
            raise FhirHttpError(
                400, f'HAPI-1442: Invalid _total parameter value "{total_mode}". Valid values: '
                "[none, estimated, accurate]"
            )  # fmt: skip
        key = json.dumps(sorted(params))
        with self._lock:
            cached = None
            if not no_cache:
                cached = next(
                    (
                        search
                        for search in self._searches.values()
                        if search.key == key and self.clock() - search.created < SEARCH_CACHE_S
                    ),
                    None,
                )
            if cached is None:
                ids = self._matching_ids(params)
                ids = self._sorted(ids, options.get("_sort", ""))
                include_total = total_mode == "accurate" or (
                    total_mode != "none" and len(ids) <= self.total_threshold
                )
                cached = CachedSearch(str(uuid.uuid4()), ids, self.clock(), key, include_total)
                self._searches[cached.id] = cached
        if options.get("_summary") == "count" or count == 0:
            return searched(self._count_bundle(cached))
        self_url = f"{base}/Patient?" + _query_string(sorted(params, key=lambda kv: kv[0]))
        offset = options.get("_offset")
        if offset is not None:
            if not offset.isdigit():
                raise FhirHttpError(400, f'HAPI-1440: Invalid _offset value "{offset}"')
            return searched(
                self._bundle(
                    cached, base, self_url, int(offset), count, options, params, pretty=pretty
                )
            )
        return searched(
            self._bundle(cached, base, self_url, 0, count, options, None, pretty=pretty)
        )

    def _count(self, options: dict[str, str]) -> int:
        raw = options.get("_count")
        if raw is None:
            return self.default_page_size
        if not raw.isdigit():
            raise FhirHttpError(400, f"HAPI-0375: Invalid _count value: {raw}")
        return int(raw)

    def _validate(self, params: list[tuple[str, str]]) -> None:
        for key, value in params:
            name, _, modifier = key.partition(":")
            if name in RESULT_PARAMETERS:
                continue
            if name in FULLTEXT_PARAMETERS:
                raise FhirHttpError(
                    400,
                    "HAPI-1192: Fulltext search is not enabled on this service, can not process "
                    f"parameter: {name}",
                )
            if name not in PATIENT_SEARCH_PARAMETERS:
                known = ", ".join(PATIENT_SEARCH_PARAMETERS)
                raise FhirHttpError(
                    400,
                    f'HAPI-0524: Unknown search parameter "{name}" for resource type "Patient". '
                    f"Valid search parameters for this search are: [{known}]",
                )
            if modifier and modifier not in ("exact", "contains", "missing", "not", "text"):
                raise FhirHttpError(
                    400, f'HAPI-1293: Invalid modifier ":{modifier}" for parameter "{name}"'
                )
            if name in ("birthdate", "death-date", "_lastUpdated") and modifier != "missing":
                for part in split_unescaped(value, ","):
                    _, parsed = _date_param(part)
                    if parsed is None:
                        raw = part[2:] if part[:2] in DATE_PREFIXES else part
                        raise FhirHttpError(400, f'HAPI-1882: Invalid date/time format: "{raw}"')
        sort = dict(params).get("_sort", "")
        for item in filter(None, sort.split(",")):
            name = item.strip().lstrip("-")
            if name not in SORTABLE:
                raise FhirHttpError(
                    400,
                    f'HAPI-1194: Unknown _sort parameter value "{name}" for resource type '
                    '"Patient" (Note: sort parameters values must use a valid Search Parameter). '
                    f"Valid values for this search are: [{', '.join(PATIENT_SEARCH_PARAMETERS)}]",
                )

    def _matching_ids(self, params: list[tuple[str, str]]) -> list[str]:
        today = datetime.fromtimestamp(self.clock(), tz=UTC).date()
        found = []
        for stored in sorted(self._resources.values(), key=lambda s: s.sequence):
            if stored.resource_type != "Patient" or stored.deleted_at:
                continue
            if all(
                _param_matches(stored, key, value, today)
                for key, value in params
                if key.partition(":")[0] not in RESULT_PARAMETERS
            ):
                found.append(stored.id)
        return found

    def _sorted(self, ids: list[str], sort: str) -> list[str]:
        keys = [item.strip() for item in sort.split(",") if item.strip()]
        result = list(ids)
        for key in reversed(keys):
            descending = key.startswith("-")
            name = key.lstrip("-")
            present = [i for i in result if _sort_value(self._resources[("Patient", i)], name)]
            missing = [i for i in result if i not in set(present)]
            present.sort(
                key=lambda i, n=name: _sort_value(self._resources[("Patient", i)], n),
                reverse=descending,
            )
            result = present + missing
        return result

    def _count_bundle(self, search: CachedSearch) -> dict[str, Any]:
        now, _ = self._now()
        return {
            "resourceType": "Bundle",
            "id": search.id,
            "meta": {
                "lastUpdated": now,
                "tag": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                        "code": "SUBSETTED",
                        "display": "Resource encoded in summary mode",
                    }
                ],
            },
            "type": "searchset",
            "total": len(search.ids),
        }

    def _bundle(
        self,
        search: CachedSearch,
        base: str,
        self_url: str,
        offset: int,
        count: int,
        options: dict[str, str],
        offset_params: list[tuple[str, str]] | None,
        *,
        pretty: bool | None = None,
    ) -> dict[str, Any]:
        now, _ = self._now()
        with self._lock:
            page_ids = search.ids[offset : offset + count]
            resources = [
                copy.deepcopy(self._resources[("Patient", i)].current)
                for i in page_ids
                if not self._resources[("Patient", i)].deleted_at
            ]
        total = len(search.ids)
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": search.id,
            "meta": {"lastUpdated": now},
            "type": "searchset",
        }
        if search.include_total:
            bundle["total"] = total
        links = [{"relation": "self", "url": self_url}]

        def page_link(new_offset: int) -> str:
            if offset_params is not None:
                kept = [kv for kv in offset_params if kv[0] not in ("_offset", "_count")]
                kept += [("_count", str(count)), ("_offset", str(new_offset))]
                return f"{base}/Patient?" + _query_string(sorted(kept, key=lambda kv: kv[0]))
            url = f"{base}?_getpages={search.id}&_getpagesoffset={new_offset}&_count={count}"
            if "_format" in options:
                url += f"&_format={quote(options['_format'], safe='')}"
            if self.default_pretty_print if pretty is None else pretty:
                url += "&_pretty=true"
            return url + "&_bundletype=searchset"

        if page_ids and offset + count < total:
            links.append({"relation": "next", "url": page_link(offset + count)})
        if offset > 0:
            links.append({"relation": "previous", "url": page_link(max(0, offset - count))})
        bundle["link"] = links
        if resources:
            bundle["entry"] = [
                {
                    "fullUrl": f"{base}/Patient/{resource['id']}",
                    "resource": resource,
                    "search": {"mode": "match"},
                }
                for resource in resources
            ]
        return bundle

    def _get_page(self, query: list[tuple[str, str]], base: str, environ: dict[str, Any]) -> Answer:
        options = dict(query)
        search_id = options.get("_getpages", "")
        with self._lock:
            search = self._searches.get(search_id)
        if search is None:
            raise FhirHttpError(
                410, f'HAPI-0417: Search ID "{search_id}" does not exist and may have expired'
            )
        offset_text = options.get("_getpagesoffset", "0")
        if not offset_text.isdigit():
            raise FhirHttpError(400, f'HAPI-0461: Invalid _getpagesoffset value "{offset_text}"')
        count = self._count(options)
        self_url = f"{base}?{environ.get('QUERY_STRING', '')}"
        bundle = self._bundle(
            search,
            base,
            self_url,
            int(offset_text),
            count,
            options,
            None,
            pretty=self._pretty(environ),
        )
        return searched(bundle, content_location=f"{base}/Bundle/{search.id}")

    # -- transaction / batch -----------------------------------------------------------

    def _transaction(self, bundle: dict[str, Any], base: str, environ: dict[str, Any]) -> Answer:
        if bundle.get("resourceType") != "Bundle":
            raise FhirHttpError(
                400,
                "HAPI-0339: Unable to process request, this server does not know how to handle "
                f"resources of type {bundle.get('resourceType')} - Can only handle Bundle",
            )
        kind = bundle.get("type")
        if kind not in ("transaction", "batch"):
            raise FhirHttpError(
                400, f"HAPI-0527: Invalid request Bundle.type value for transaction: {kind}"
            )
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise FhirHttpError(400, "HAPI-0450: Bundle.entry must be a list")
        prefer = environ.get("HTTP_PREFER", "")
        with self._lock:
            snapshot = (copy.deepcopy(self._resources), self._next_id, self._sequence)
            responses = []
            for index, entry in enumerate(entries):
                try:
                    responses.append(self._transaction_entry(entry, index, base, prefer))
                except FhirHttpError as exc:
                    if kind == "transaction":
                        self._resources, self._next_id, self._sequence = snapshot
                        raise FhirHttpError(
                            exc.status,
                            f"HAPI-0535: Transaction processing failed on entry {index}: "
                            f"{exc.diagnostics}",
                            exc.code,
                        ) from None
                    responses.append(
                        {
                            "response": {
                                "status": f"{exc.status} {REASONS.get(exc.status, '')}".strip(),
                                "outcome": outcome(exc.diagnostics, code=exc.code),
                            }
                        }
                    )
        return Answer(
            200,
            {
                "resourceType": "Bundle",
                "id": str(uuid.uuid4()),
                "type": f"{kind}-response",
                "link": [{"relation": "self", "url": base}],
                "entry": responses,
            },
        )

    def _transaction_entry(self, entry: Any, index: int, base: str, prefer: str) -> dict[str, Any]:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            raise FhirHttpError(
                400,
                "HAPI-0527: Transaction bundle entry has missing or invalid HTTP Verb specified "
                f'in Bundle.entry({index}).request.method. Found value: "null"',
            )
        method = str(request.get("method", "")).upper()
        url = str(request.get("url", "")).strip().lstrip("/")
        resource = entry.get("resource")
        path, _, criteria = url.partition("?")
        parts = [part for part in path.split("/") if part]
        if not parts or parts[0] != "Patient":
            raise FhirHttpError(
                404, f"HAPI-0302: Unknown resource type '{parts[0] if parts else ''}'"
            )
        if method == "POST" and len(parts) == 1:
            if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
                raise FhirHttpError(400, f"HAPI-0450: Bundle.entry({index}) has no Patient")
            answer = self._create(
                resource, if_none_exist=request.get("ifNoneExist"), base=base, prefer=prefer
            )
        elif method == "PUT" and len(parts) == 2:
            if not isinstance(resource, dict):
                raise FhirHttpError(400, f"HAPI-0450: Bundle.entry({index}) has no resource")
            answer = self._update(
                "Patient",
                parts[1],
                resource,
                if_match=request.get("ifMatch"),
                base=base,
                prefer=prefer,
            )
        elif method == "DELETE" and len(parts) == 2:
            answer = self._delete("Patient", parts[1], base)
        elif method == "GET" and len(parts) == 2:
            answer = self._read("Patient", parts[1], base)
        elif method == "GET" and len(parts) == 1:
            answer = self._search(parse_qsl(criteria), base, no_cache=True)
        else:
            raise FhirHttpError(
                400,
                f"HAPI-0527: Transaction bundle entry has missing or invalid HTTP Verb specified "
                f'in Bundle.entry({index}).request.method. Found value: "{method}"',
            )
        response: dict[str, Any] = {"status": f"{answer.status} {REASONS[answer.status]}"}
        if "Content-Location" in answer.headers:
            location = answer.headers["Content-Location"].removeprefix(base + "/")
            response["location"] = location
            response["etag"] = answer.headers["ETag"]
            response["lastModified"] = (
                answer.body.get("meta", {}).get("lastUpdated", "")
                if isinstance(answer.body, dict)
                else ""
            )
        result: dict[str, Any] = {}
        if method == "GET" or ("return=representation" in prefer and answer.body is not None):
            result["resource"] = answer.body
        elif method == "DELETE" and answer.body is not None:
            response["outcome"] = answer.body
        result["response"] = response
        return result

    # -- metadata ----------------------------------------------------------------------

    def _capability_statement(self, base: str) -> dict[str, Any]:
        now, _ = self._now()
        return {
            "resourceType": "CapabilityStatement",
            "id": str(uuid.uuid4()),
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">HAPI FHIR Server</div>',
            },
            "name": "RestServer",
            "status": "active",
            "date": now[:19] + "Z",
            "publisher": "Not provided",
            "kind": "instance",
            "software": {"name": "HAPI FHIR Server", "version": HAPI_VERSION},
            "implementation": {"description": "HAPI FHIR R4 Server", "url": base},
            "fhirVersion": "4.0.1",
            "format": [
                "application/fhir+xml",
                "xml",
                "application/fhir+json",
                "json",
                "application/x-turtle",
                "ttl",
                "html/json",
                "html/xml",
                "html/turtle",
            ],
            "patchFormat": [
                "application/fhir+json",
                "application/fhir+xml",
                "application/json-patch+json",
                "application/xml-patch+xml",
            ],
            "rest": [
                {
                    "mode": "server",
                    "resource": [
                        {
                            "type": "Patient",
                            "profile": "http://hl7.org/fhir/StructureDefinition/Patient",
                            "interaction": [{"code": code} for code in INTERACTIONS],
                            "versioning": "versioned-update",
                            "conditionalCreate": True,
                            "conditionalUpdate": True,
                            "conditionalDelete": "multiple",
                            "searchParam": [
                                {"name": name, "type": _param_type(name)}
                                for name in PATIENT_SEARCH_PARAMETERS
                            ],
                        }
                    ],
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                }
            ],
        }


# -- matching ------------------------------------------------------------------------------


def _param_type(name: str) -> str:
    if name in ("birthdate", "death-date", "_lastUpdated"):
        return "date"
    if name in ("general-practitioner", "organization", "link"):
        return "reference"
    if name in ("gender", "identifier", "active", "deceased", "email", "phone", "telecom",
                "address-use", "language", "_id", "_tag", "_security"):  # fmt: skip
        return "token"
    return "string"


def searched(bundle: dict[str, Any], *, content_location: str = "") -> Answer:
    """A search answer: HAPI dates it by the Bundle's lastUpdated and names a page's search."""
    moment = datetime.fromisoformat(bundle["meta"]["lastUpdated"])
    headers = {"Last-Modified": format_datetime(moment.astimezone(UTC), usegmt=True)}
    if content_location:
        headers["Content-Location"] = content_location
    return Answer(200, bundle, headers)


def with_narrative(body: Any) -> Any:
    """Add the narrative HAPI's generator writes to Patients and OperationOutcomes it sends
    without one (the starter's default ``narrative_enabled``), also inside search Bundles."""
    if not isinstance(body, dict):
        return body
    if body.get("resourceType") == "Bundle":
        for entry in body.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                entry["resource"] = with_narrative(entry["resource"])
        return body
    makers = {"Patient": _patient_narrative, "OperationOutcome": _outcome_narrative}
    maker = makers.get(str(body.get("resourceType")))
    if maker is None or "text" in body:
        return body
    ordered = {key: body[key] for key in ("resourceType", "id", "meta") if key in body}
    ordered["text"] = {"status": "generated", "div": maker(body)}
    ordered.update((key, value) for key, value in body.items() if key not in ordered)
    return ordered


def _xhtml(value: Any) -> str:
    """Text escaped as HAPI writes narrative XHTML (``&``, ``<``, ``>`` and ``"``; not ``'``)."""
    return html.escape(str(value), quote=False).replace('"', "&quot;")


def _outcome_narrative(outcome_body: dict[str, Any]) -> str:
    rows = "".join(
        '<tr><td style="font-weight: bold;">'
        f"{_xhtml(str(issue.get('severity', '')).upper())}</td><td>[]</td>"
        f"<td>{_xhtml(issue.get('diagnostics', ''))}</td></tr>"
        for issue in _dicts(outcome_body.get("issue"))
    )
    return f'{XHTML_DIV}<h1>Operation Outcome</h1><table border="0">{rows}</table></div>'


def _patient_narrative(patient: dict[str, Any]) -> str:
    """HAPI's Patient narrative for the common fields: first name, identifier, address, birth."""

    name = next(iter(_dicts(patient.get("name"))), {})
    header = "".join(f"{_xhtml(p)} " for p in _strings(name.get("prefix")))
    header += "".join(f"{_xhtml(g)} " for g in _strings(name.get("given")))
    if name.get("family"):
        header += f"<b>{_xhtml(str(name['family']).upper())} </b>"
    header += "".join(f" {_xhtml(s)} " for s in _strings(name.get("suffix")))
    rows = []
    identifier = next(iter(_dicts(patient.get("identifier"))), None)
    if identifier is not None:
        rows.append(f"<tr><td>Identifier</td><td>{_xhtml(identifier.get('value', ''))}</td></tr>")
    address = next(iter(_dicts(patient.get("address"))), None)
    if address is not None:
        parts = "".join(
            f"<span>{_xhtml(line)} </span><br/>" for line in _strings(address.get("line"))
        )
        parts += "".join(
            f"<span>{_xhtml(address[key])} </span>"
            for key in ("city", "state", "country")
            if isinstance(address.get(key), str)
        )
        rows.append(f"<tr><td>Address</td><td>{parts}</td></tr>")
    born = DateRange.parse(str(patient.get("birthDate", "")))
    if born is not None:
        day = born.low
        rows.append(
            "<tr><td>Date of birth</td><td><span>"
            f"{day.day:02d} {MONTHS[day.month - 1]} {day.year}</span></td></tr>"
        )
    body = f"<tbody>{''.join(rows)}</tbody>" if rows else "<tbody/>"
    return (
        f'{XHTML_DIV}<div class="hapiHeaderText">{header}</div>'
        f'<table class="hapiPropertyTable">{body}</table></div>'
    )


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def _query_string(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def _date_param(text: str) -> tuple[str, DateRange | None]:
    prefix = text[:2] if text[:2] in DATE_PREFIXES else "eq"
    value = text[2:] if text[:2] in DATE_PREFIXES else text
    return prefix, DateRange.parse(value)


def _dicts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _name_parts(resource: dict[str, Any], which: str) -> list[str]:
    parts: list[str] = []
    for name in _dicts(resource.get("name")):
        if which in ("name", "family"):
            parts.extend(_strings(name.get("family")))
        if which in ("name", "given"):
            parts.extend(_strings(name.get("given")))
        if which == "name":
            parts.extend(_strings(name.get("prefix")))
            parts.extend(_strings(name.get("suffix")))
            parts.extend(_strings(name.get("text")))
    return parts


def _address_parts(resource: dict[str, Any], which: str) -> list[str]:
    parts: list[str] = []
    fields = {
        "address-postalcode": ("postalCode",),
        "address-city": ("city",),
        "address-state": ("state",),
        "address-country": ("country",),
        "address": ("line", "city", "district", "state", "postalCode", "country", "text"),
    }[which]
    for address in _dicts(resource.get("address")):
        for name in fields:
            parts.extend(_strings(address.get(name)))
    return parts


def _string_values(resource: dict[str, Any], name: str) -> list[str]:
    if name in ("name", "family", "given"):
        return _name_parts(resource, name)
    if name.startswith("address"):
        return _address_parts(resource, name) if name != "address-use" else []
    return []


def _string_matches(values: list[str], wanted: str, modifier: str) -> bool:
    if modifier == "exact":
        return any(value == wanted for value in values)
    needle = normalise(wanted)
    if modifier == "contains":
        return any(needle in normalise(value) for value in values)
    return any(normalise(value).startswith(needle) for value in values)


def _param_matches(stored: Stored, key: str, value: str, today: date) -> bool:
    resource = stored.current
    name, _, modifier = key.partition(":")
    if modifier == "missing":
        present = bool(_present_values(resource, name))
        return present != (value == "true")
    alternatives = split_unescaped(value, ",")
    if name in ("name", "family", "given", "address", "address-postalcode", "address-city",
                "address-state", "address-country"):  # fmt: skip
        values = _string_values(resource, name)
        return any(_string_matches(values, alt, modifier) for alt in alternatives)
    if name == "_id":
        return stored.id in (alternatives)
    if name == "gender":
        result = resource.get("gender") in (alternatives)
        return not result if modifier == "not" else result
    if name == "active":
        return str(resource.get("active", "")).lower() in (alternatives)
    if name == "deceased":
        deceased = bool(resource.get("deceasedDateTime")) or resource.get("deceasedBoolean") is True
        return str(deceased).lower() in (alternatives)
    if name == "identifier":
        return any(_identifier_matches(resource, alt) for alt in _split_or_token(value))
    if name in ("telecom", "phone", "email"):
        wanted_system = {"phone": "phone", "email": "email"}.get(name)
        for alt in alternatives:
            system, wanted = _split_token(alt)
            for point in _dicts(resource.get("telecom")):
                if wanted_system and point.get("system") != wanted_system:
                    continue
                if point.get("value") == wanted and (
                    system in (None, "") or system == point.get("system")
                ):
                    return True
        return False
    if name in ("birthdate", "death-date"):
        field_name = "birthDate" if name == "birthdate" else "deceasedDateTime"
        target = DateRange.parse(str(resource.get(field_name, "")))
        if target is None:
            return False
        for alt in alternatives:
            prefix, parsed = _date_param(alt)
            if parsed is not None and date_matches(prefix, parsed, target, today):
                return True
        return False
    if name == "_lastUpdated":
        target = DateRange.parse(resource["meta"]["lastUpdated"][:10])
        return any(
            date_matches(prefix, parsed, target, today)
            for prefix, parsed in (_date_param(alt) for alt in alternatives)
            if parsed is not None and target is not None
        )
    if name == "general-practitioner":
        references = [
            ref.get("reference", "") for ref in _dicts(resource.get("generalPractitioner"))
        ]
        return any(alt in references for alt in alternatives)
    raise FhirHttpError(400, f'The emulator does not implement the search parameter "{name}" yet')


def _split_or_token(value: str) -> list[str]:
    """Split a token list on unescaped commas, keeping escapes for ``_split_token``."""
    parts, current, index = [], [], 0
    while index < len(value):
        ch = value[index]
        if ch == "\\" and index + 1 < len(value):
            current.append(value[index : index + 2])
            index += 2
            continue
        if ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        index += 1
    parts.append("".join(current))
    return parts


def _identifier_matches(resource: dict[str, Any], wanted: str) -> bool:
    system, value = _split_token(wanted)
    for identifier in _dicts(resource.get("identifier")):
        if system is not None and system != "" and identifier.get("system") != system:
            continue
        if system == "" and identifier.get("system"):
            continue
        if value == "" or identifier.get("value") == value:
            return True
    return False


def _present_values(resource: dict[str, Any], name: str) -> list[Any]:
    field_name = {
        "birthdate": "birthDate", "gender": "gender", "identifier": "identifier",
        "telecom": "telecom", "general-practitioner": "generalPractitioner",
    }.get(name)  # fmt: skip
    if field_name:
        value = resource.get(field_name)
        return [value] if value else []
    return _string_values(resource, name)


def _sort_value(stored: Stored, name: str) -> Any:
    resource = stored.current
    if name == "_id":
        return (0, int(stored.id), "") if stored.id.isdigit() else (1, 0, stored.id)
    if name == "_lastUpdated":
        return resource["meta"]["lastUpdated"]
    if name == "birthdate":
        parsed = DateRange.parse(str(resource.get("birthDate", "")))
        return parsed.low if parsed else None
    if name == "death-date":
        parsed = DateRange.parse(str(resource.get("deceasedDateTime", ""))[:10])
        return parsed.low if parsed else None
    if name == "gender":
        return resource.get("gender")
    if name == "active":
        return str(resource.get("active", "")) or None
    if name == "identifier":
        values = [i.get("value", "") for i in _dicts(resource.get("identifier"))]
        return min(values) if values else None
    if name in ("telecom", "phone", "email"):
        values = [p.get("value", "") for p in _dicts(resource.get("telecom"))]
        return min(values) if values else None
    values = [normalise(value) for value in _string_values(resource, name)]
    return min(values) if values else None


def start_hapi_emulator(
    port: int = 0, *, patients: Iterable[dict[str, Any]] = (), **options: Any
) -> tuple[EmulatorServer, str]:
    """Serve a HAPI emulator on 127.0.0.1; returns the server and the FHIR base URL.

    The emulator app is ``server.injector.app``; ``options`` go to ``HapiEmulator``.
    """
    app = HapiEmulator(**options)
    if patients:
        app.seed(patients)
    server = EmulatorServer(app, port=port)
    url = server.start()
    return server, f"{url}{BASE_PATH}"
