"""An EHRbase 2.x emulator: a WSGI app answering like EHRbase for what the console uses.

Served under ``/ehrbase`` by ``EmulatorServer`` (which adds fault injection). Faithful to the
recorded wire contract: HTTP Basic with a USER and an ADMIN account (401 with
``WWW-Authenticate``, 403 for the user on admin paths), ``/rest/status`` (XML unless JSON is
asked for), EHRs by subject (409 on a duplicate subject), compositions in FLAT or canonical
JSON (204 on a minimal create, 204 on reading a deleted one), ADL 1.4 templates (list as
JSON, upload as XML, 409 on a duplicate, 400 on an invalid OPT, 406 for JSON), and AQL with
``query_parameters`` for the query shapes in ``ehrbase_aql`` (400 for anything else, 422 for
``fetch``/``offset`` combined with LIMIT). Every AQL request body is kept in
``aql_requests`` so tests can check what the console really sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from console.sandbox import ehrbase_aql as aql
from console.sandbox import ehrbase_opt as opt
from console.sandbox.server import EmulatorServer

PREFIX = "/ehrbase"
API = "/rest/openehr/v1"
LAST_MODIFIED = "Fri, 02 Jan 1970 10:12:04 GMT"
FLAT_TYPE = "application/openehr.wt.flat.schema+json"
INTERNAL_ERROR = "An internal error has occurred. Please contact your administrator."
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 412: "Precondition Failed",
    415: "Unsupported Media Type", 422: "Unprocessable Entity", 500: "Internal Server Error",
    501: "Not Implemented",
}  # fmt: skip

DEFAULT_USER = ("ehrbase-user", "SuperSecretPassword")
DEFAULT_ADMIN = ("ehrbase-admin", "EvenMoreSecretPassword")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Call:
    """One authenticated request the emulator answered."""

    method: str
    path: str
    user: str
    request_id: str | None
    query: str


@dataclass
class EhrRecord:
    ehr_id: str
    status: dict[str, Any]
    time_created: str
    status_uid: str


@dataclass
class CompositionRecord:
    uid: str
    ehr_id: str
    template_id: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    @property
    def version(self) -> int:
        return len(self.versions)


class HttpError(Exception):
    """An EHRbase error answer."""

    def __init__(self, status: int, message: str, *, xml: bool = False) -> None:
        self.status = status
        self.message = message
        self.xml = xml
        super().__init__(message)


class EhrbaseEmulator:
    """The WSGI app. State is in memory and guarded by one lock."""

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER[0],
        password: str = DEFAULT_USER[1],
        admin_user: str = DEFAULT_ADMIN[0],
        admin_password: str = DEFAULT_ADMIN[1],
        system_id: str = "quill.ehrbase.node",
        version: str = "2.30.0",
    ) -> None:
        self.accounts = {user: (password, "USER"), admin_user: (admin_password, "ADMIN")}
        self.system_id = system_id
        self.version = version
        self.lock = threading.RLock()
        self.ehrs: dict[str, EhrRecord] = {}
        self.compositions: dict[str, CompositionRecord] = {}
        self.templates: dict[str, opt.WebTemplate] = {}
        self.aql_requests: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        #: Answer EHR creation with an empty body whatever ``Prefer`` says (as a proxy that
        #: drops the header would make it); off by default, as EHRbase honours ``Prefer``.
        self.ignore_prefer = False
        #: Fault: AQL asked about a subject (``$subject_id``) also answers with the rows of this
        #: subject (``foreign_only``: with theirs alone), as a server bug, a mis-set namespace
        #: or a proxy caching another patient's answer would. None (the default): truthful.
        self.foreign_subject: str | None = None
        self.foreign_only = False

    # -- plumbing --------------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except HttpError as exc:
            response = self.error(exc.status, exc.message, xml=exc.xml)
        except Exception as exc:  # a bug in the emulator answers like EHRbase's 500
            response = self.error(500, INTERNAL_ERROR)
            response.headers["X-Emulator-Exception"] = repr(exc)[:200]
        return response(environ, start_response)

    @staticmethod
    def json_response(
        data: Any, status: int = 200, content_type: str = "application/json"
    ) -> Response:
        return Response(json.dumps(data), status=status, content_type=content_type)

    @staticmethod
    def error(status: int, message: str, *, xml: bool = False) -> Response:
        reason = REASONS.get(status, "Error")
        if xml:
            body = (
                f"<Map><error>{_xml_escape(reason)}</error>"
                f"<message>{_xml_escape(message)}</message></Map>"
            )
            return Response(body, status=status, content_type="application/xml")
        return EhrbaseEmulator.json_response({"error": reason, "message": message}, status)

    @staticmethod
    def spring_error(status: int, path: str) -> Response:
        body = {
            "timestamp": now_iso(),
            "status": status,
            "error": REASONS[status],
            "path": path,
        }
        response = EhrbaseEmulator.json_response(body, status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Realm"'
        return response

    def authenticate(self, request: Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        account = self.accounts.get(user)
        if account is None or account[0] != password:
            return None
        return user, account[1]

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if not path.startswith(PREFIX + "/"):
            return self.error(404, f"No resource found at path: {path}")
        identity = self.authenticate(request)
        if identity is None:
            return self.spring_error(401, path)
        user, role = identity
        with self.lock:
            self.calls.append(
                Call(
                    request.method,
                    path,
                    user,
                    request.headers.get("X-Request-ID"),
                    request.query_string.decode("latin-1"),
                )
            )
        sub = path[len(PREFIX) :]
        if sub.startswith(("/rest/admin/", "/management/")) and role != "ADMIN":
            return self.spring_error(403, path)
        if sub == "/rest/status":
            return self.status(request)
        if sub.startswith(API + "/"):
            return self.openehr(request, sub[len(API) :])
        return self.error(404, f"No resource found at path: {path}")

    def base_url(self, request: Request) -> str:
        return f"http://{request.host}{PREFIX}{API}"

    # -- status ----------------------------------------------------------------------------------

    def status(self, request: Request) -> Response:
        if request.method != "GET":
            raise HttpError(405, f"Request method '{request.method}' is not supported")
        info = {
            "ehrbase_version": self.version,
            "openehr_sdk_version": "2.27.0",
            "archie_version": "3.13.0",
            "jvm_version": "Eclipse Adoptium 21.0.9+10-LTS",
            "os_version": "Linux amd64 6.1.0",
            "postgres_version": "PostgreSQL 16.11 on x86_64-pc-linux-gnu, 64-bit",
        }
        if _accepts(request, "application/json") and not _prefers_xml(request):
            return self.json_response(info)
        body = (
            "<status>"
            + "".join(f"<{k}>{_xml_escape(v)}</{k}>" for k, v in info.items())
            + "</status>"
        )
        return Response(body, content_type="application/xml")

    # -- routing ---------------------------------------------------------------------------------

    def openehr(self, request: Request, sub: str) -> Response:
        method = request.method
        parts = [unquote(p) for p in sub.strip("/").split("/")]
        if parts == ["ehr"]:
            if method == "POST":
                return self.create_ehr(request)
            if method == "GET":
                return self.find_ehr(request)
        elif len(parts) == 2 and parts[0] == "ehr":
            if method == "GET":
                return self.get_ehr(request, parts[1])
            if method == "PUT":
                return self.create_ehr(request, parts[1])
        elif (
            len(parts) == 3 and parts[0] == "ehr" and parts[2] == "composition" and method == "POST"
        ):
            return self.create_composition(request, parts[1])
        elif len(parts) == 4 and parts[0] == "ehr" and parts[2] == "composition":
            if method == "GET":
                return self.get_composition(request, parts[1], parts[3])
            if method == "PUT":
                return self.update_composition(request, parts[1], parts[3])
            if method == "DELETE":
                return self.delete_composition(request, parts[1], parts[3])
        elif parts[:3] == ["definition", "template", "adl1.4"]:
            return self.templates_route(request, parts[3:])
        elif parts == ["query", "aql"]:
            if method == "POST":
                return self.query(request)
            raise HttpError(501, "GET /query/aql is not supported by this emulator; POST the query")
        else:
            raise HttpError(404, f"No resource found at path: {request.path}")
        raise HttpError(405, f"Request method '{method}' is not supported")

    # -- EHR -------------------------------------------------------------------------------------

    def _ehr_json(self, record: EhrRecord) -> dict[str, Any]:
        return {
            "_type": "EHR",
            "system_id": {"_type": "HIER_OBJECT_ID", "value": self.system_id},
            "ehr_id": {"_type": "HIER_OBJECT_ID", "value": record.ehr_id},
            "ehr_status": {
                "_type": "OBJECT_REF",
                "id": {"_type": "OBJECT_VERSION_ID", "value": record.status_uid},
                "namespace": "local",
                "type": "EHR_STATUS",
            },
            "time_created": {"_type": "DV_DATE_TIME", "value": record.time_created},
        }

    def _ehr_headers(self, request: Request, response: Response, ehr_id: str) -> Response:
        response.headers["Location"] = f"{self.base_url(request)}/ehr/{ehr_id}"
        response.headers["ETag"] = f'"{ehr_id}"'
        response.headers["Last-Modified"] = LAST_MODIFIED
        return response

    def create_ehr(self, request: Request, ehr_id: str | None = None) -> Response:
        status: dict[str, Any] | None = None
        if request.get_data():
            if "json" not in (request.content_type or ""):
                raise HttpError(415, f"Content-Type '{request.content_type}' is not supported")
            status = _json_body(request)
            if not isinstance(status, dict) or "_type" not in status:
                raise HttpError(
                    400,
                    "Could not resolve subtype of [simple type, class com.nedap.archie.rm.RMObject]: "
                    "missing type id property '_type'",
                )
            if status["_type"] != "EHR_STATUS":
                raise HttpError(
                    400, f"Could not resolve type id '{status['_type']}' as a subtype of EHR_STATUS"
                )
            for attribute in ("subject", "is_queryable", "is_modifiable"):
                if attribute not in status:
                    raise HttpError(400, f"Missing attribute EHR_STATUS/{attribute}")
        if ehr_id is not None and not UUID_RE.match(ehr_id):
            raise HttpError(400, "EHR ID format not a UUID")
        with self.lock:
            if ehr_id is not None and ehr_id in self.ehrs:
                raise HttpError(409, f"EHR with id {ehr_id} already exists.")
            status = status or {
                "_type": "EHR_STATUS",
                "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
                "name": {"value": "EHR Status"},
                "subject": {"_type": "PARTY_SELF"},
                "is_modifiable": True,
                "is_queryable": True,
            }
            ref = (status.get("subject") or {}).get("external_ref") or {}
            subject_id = (ref.get("id") or {}).get("value")
            namespace = ref.get("namespace")
            if subject_id is not None and self._ehr_by_subject(subject_id, namespace) is not None:
                raise HttpError(
                    409,
                    f"Supplied partyId[{subject_id}] is used by a different EHR in the same "
                    f"partyNamespace[{namespace}].",
                )
            new_id = ehr_id or str(uuid.uuid4())
            record = EhrRecord(
                ehr_id=new_id,
                status=status,
                time_created=now_iso(),
                status_uid=f"{uuid.uuid4()}::{self.system_id}::1",
            )
            self.ehrs[new_id] = record
        representation = ehr_id is not None or (
            not self.ignore_prefer and "return=representation" in request.headers.get("Prefer", "")
        )
        if representation:
            response = self.json_response(self._ehr_json(record), 201)
        else:
            response = Response(b"", status=201)
        return self._ehr_headers(request, response, new_id)

    def _ehr_by_subject(self, subject_id: str, namespace: str | None) -> EhrRecord | None:
        for record in self.ehrs.values():
            ref = (record.status.get("subject") or {}).get("external_ref") or {}
            if (ref.get("id") or {}).get("value") == subject_id and ref.get(
                "namespace"
            ) == namespace:
                return record
        return None

    def find_ehr(self, request: Request) -> Response:
        subject_id = request.args.get("subject_id")
        namespace = request.args.get("subject_namespace")
        if subject_id is None or namespace is None:
            raise HttpError(
                400,
                'Parameter conditions "subject_id, subject_namespace" not met for actual request '
                f"parameters: {', '.join(f'{k}={{{v}}}' for k, v in request.args.items())}",
            )
        with self.lock:
            record = self._ehr_by_subject(subject_id, namespace)
        if record is None:
            raise HttpError(404, "No EHR with supplied subject parameters found")
        return self._ehr_headers(request, self.json_response(self._ehr_json(record)), record.ehr_id)

    def _ehr(self, ehr_id: str) -> EhrRecord:
        if not UUID_RE.match(ehr_id):
            raise HttpError(404, "EHR not found, in fact, only UUID-type IDs are supported")
        record = self.ehrs.get(ehr_id)
        if record is None:
            raise HttpError(404, f"EHR with id {ehr_id} not found")
        return record

    def get_ehr(self, request: Request, ehr_id: str) -> Response:
        with self.lock:
            record = self._ehr(ehr_id)
        return self._ehr_headers(request, self.json_response(self._ehr_json(record)), record.ehr_id)

    # -- compositions ----------------------------------------------------------------------------

    def _format(self, request: Request, default: str = "JSON") -> str:
        fmt = (request.args.get("format") or default).upper()
        if fmt in ("RAW", "EXPANDED", "ECISFLAT"):
            raise HttpError(400, f"Format {fmt} not supported")
        if fmt not in ("JSON", "FLAT", "XML", "STRUCTURED"):
            raise HttpError(400, f"Unknown format {fmt}")
        if fmt in ("XML", "STRUCTURED"):
            raise HttpError(501, f"Format {fmt} is not supported by this emulator")
        return fmt

    def _composition_from_request(
        self, request: Request, fmt: str
    ) -> tuple[opt.WebTemplate, dict[str, Any]]:
        body = _json_body(request)
        if fmt == "FLAT":
            template_id = request.args.get("templateId")
            if not template_id:
                raise HttpError(500, INTERNAL_ERROR)
            template = self.templates.get(template_id)
            if template is None:
                raise HttpError(400, f"Could not retrieve template for template Id: {template_id}")
            try:
                return template, opt.flat_to_composition(template, body)
            except opt.FlatError as exc:
                raise HttpError(400, str(exc)) from None
            except opt.ValidationError as exc:
                raise HttpError(422, str(exc)) from None
        if not isinstance(body, dict) or "_type" not in body:
            raise HttpError(
                400,
                "Could not resolve subtype of [simple type, class com.nedap.archie.rm.RMObject]: "
                "missing type id property '_type'",
            )
        template_id = ((body.get("archetype_details") or {}).get("template_id") or {}).get("value")
        template = self.templates.get(template_id or "")
        if template is None:
            raise HttpError(400, "Unknown or missing template in composition to be stored")
        try:
            opt.validate_composition(template, body)
        except opt.ValidationError as exc:
            raise HttpError(422, str(exc)) from None
        return template, body

    def _render_composition(
        self,
        request: Request,
        record: CompositionRecord,
        body: dict[str, Any],
        fmt: str,
        status: int,
    ) -> Response:
        if fmt == "FLAT":
            template = self.templates[record.template_id]
            return self.json_response(opt.composition_to_flat(template, body), status, FLAT_TYPE)
        return self.json_response(body, status)

    def _composition_headers(
        self, request: Request, response: Response, record: CompositionRecord, location_uid: str
    ) -> Response:
        response.headers["Location"] = (
            f"{self.base_url(request)}/ehr/{record.ehr_id}/composition/{location_uid}"
        )
        response.headers["ETag"] = f'"{record.uid}::{self.system_id}::{record.version}"'
        response.headers["Last-Modified"] = LAST_MODIFIED
        return response

    def create_composition(self, request: Request, ehr_id: str) -> Response:
        fmt = self._format(request)
        with self.lock:
            ehr = self._ehr(ehr_id)
            if ehr.status.get("is_modifiable") is False:
                raise HttpError(409, f"EHR with id {ehr_id} does not allow modification")
            template, body = self._composition_from_request(request, fmt)
            uid = str(uuid.uuid4())
            body = dict(body)
            body["uid"] = {"_type": "OBJECT_VERSION_ID", "value": f"{uid}::{self.system_id}::1"}
            record = CompositionRecord(
                uid=uid, ehr_id=ehr_id, template_id=template.template_id, versions=[body]
            )
            self.compositions[uid] = record
        if "return=representation" in request.headers.get("Prefer", ""):
            response = self._render_composition(request, record, body, fmt, 201)
        else:
            response = Response(status=204)
        return self._composition_headers(request, response, record, uid)

    def _lookup(self, ehr_id: str, uid: str) -> tuple[CompositionRecord, int | None]:
        self._ehr(ehr_id)
        base, _, rest = uid.partition("::")
        version = None
        if rest:
            system, _, number = rest.rpartition("::")
            if system != self.system_id or not number.isdigit():
                raise HttpError(404, f"No COMPOSITION with given id: {base}")
            version = int(number)
        if not UUID_RE.match(base):
            raise HttpError(400, f"Invalid composition id {uid}")
        record = self.compositions.get(base)
        if record is None or record.ehr_id != ehr_id:
            raise HttpError(404, f"No COMPOSITION with given id: {base}")
        if version is not None and not 1 <= version <= record.version:
            raise HttpError(404, f"No COMPOSITION with given id: {base}")
        return record, version

    def get_composition(self, request: Request, ehr_id: str, uid: str) -> Response:
        fmt = self._format(request)
        with self.lock:
            record, version = self._lookup(ehr_id, uid)
            if record.deleted and (version is None or version == record.version):
                return Response(status=204)
            body = record.versions[(version or record.version) - 1]
        response = self._render_composition(request, record, body, fmt, 200)
        response = self._composition_headers(request, response, record, uid)
        response.headers["ETag"] = f'"{record.uid}::{self.system_id}::{version or record.version}"'
        return response

    def _if_match(self, request: Request, record: CompositionRecord, uid: str) -> None:
        expected = f"{record.uid}::{self.system_id}::{record.version}"
        given = request.headers.get("If-Match", uid if "::" in uid else "").strip().strip('"')
        if not given:
            raise HttpError(
                400,
                "Required request header 'If-Match' for method parameter type String is not present",
            )
        if given != expected:
            raise HttpError(412, "If-Match version_uid does not match latest version")

    def update_composition(self, request: Request, ehr_id: str, uid: str) -> Response:
        fmt = self._format(request)
        with self.lock:
            record, _ = self._lookup(ehr_id, uid)
            self._if_match(request, record, "")
            template, body = self._composition_from_request(request, fmt)
            if template.template_id != record.template_id:
                raise HttpError(400, "Template of composition does not match the existing one")
            body = dict(body)
            body["uid"] = {
                "_type": "OBJECT_VERSION_ID",
                "value": f"{record.uid}::{self.system_id}::{record.version + 1}",
            }
            record.versions.append(body)
        if "return=representation" in request.headers.get("Prefer", ""):
            response = self._render_composition(request, record, body, fmt, 200)
        else:
            response = Response(status=204)
        return self._composition_headers(
            request, response, record, f"{record.uid}::{self.system_id}::{record.version}"
        )

    def delete_composition(self, request: Request, ehr_id: str, uid: str) -> Response:
        with self.lock:
            try:
                record, version = self._lookup(ehr_id, uid)
            except HttpError as exc:
                if exc.status == 404:
                    raise HttpError(
                        404,
                        "No EHR with the supplied ehr_id or no COMPOSITION with the supplied "
                        "preceding_version_uid.",
                    ) from None
                raise
            if record.deleted:
                raise HttpError(409, "The composition is already deleted")
            if version is not None and version != record.version:
                raise HttpError(412, "If-Match version_uid does not match latest version")
            record.versions.append(record.versions[-1])
            record.deleted = True
        response = Response(status=204)
        return self._composition_headers(
            request, response, record, f"{record.uid}::{self.system_id}::{record.version}"
        )

    # -- templates -------------------------------------------------------------------------------

    def templates_route(self, request: Request, rest: list[str]) -> Response:
        method = request.method
        if not rest:
            if method == "GET":
                return self.list_templates()
            if method == "POST":
                return self.upload_template(request)
        elif len(rest) == 1 and method == "GET":
            return self.get_template(request, rest[0])
        elif len(rest) == 2 and rest[1] in ("example", "webtemplate") and method == "GET":
            return self.template_extra(request, rest[0], rest[1])
        raise HttpError(405, f"Request method '{method}' is not supported")

    def list_templates(self) -> Response:
        with self.lock:
            items = [
                {
                    "template_id": t.template_id,
                    "archetype_id": t.archetype_id,
                    "concept": t.concept,
                    "created_timestamp": t.created,
                }
                for t in self.templates.values()
            ]
        return self.json_response(items)

    def upload_template(self, request: Request) -> Response:
        accept = request.headers.get("Accept", "*/*")
        if "xml" not in accept and "*/*" not in accept:
            # Spring's answer, in the representation the client asked for.
            return self.error(406, "No acceptable representation")
        content_type = request.content_type or ""
        if "xml" not in content_type:
            raise HttpError(415, f"Content-Type '{content_type}' is not supported", xml=True)
        text = request.get_data(as_text=True)
        try:
            template = opt.parse_opt(text)
        except opt.TemplateError as exc:
            raise HttpError(400, f"Invalid template: {exc}", xml=True) from None
        with self.lock:
            if template.template_id in self.templates:
                raise HttpError(
                    409,
                    f"Operational template with this template ID already exists: {template.template_id}",
                    xml=True,
                )
            self.templates[template.template_id] = template
        if "return=representation" in request.headers.get("Prefer", ""):
            response = Response(text, status=201, content_type="application/xml")
        else:
            response = Response(b"", status=201, content_type="application/xml")
        response.headers["Location"] = (
            f"{self.base_url(request)}/definition/template/adl1.4/{template.template_id}"
        )
        response.headers["ETag"] = f'"{template.template_id}"'
        response.headers["Last-Modified"] = LAST_MODIFIED
        return response

    def _template(self, template_id: str) -> opt.WebTemplate:
        template = self.templates.get(template_id)
        if template is None:
            raise HttpError(404, "Template with the specified id does not exist")
        return template

    def get_template(self, request: Request, template_id: str) -> Response:
        with self.lock:
            template = self._template(template_id)
        wants_json = _accepts(request, "application/json") or _accepts(
            request, "application/openehr.wt+json"
        )
        if wants_json and not _prefers_xml(request):
            return self.json_response(opt.web_template(template))
        return Response(template.opt, content_type="application/xml")

    def template_extra(self, request: Request, template_id: str, what: str) -> Response:
        with self.lock:
            template = self._template(template_id)
        if what == "webtemplate":
            return self.json_response(opt.web_template(template))
        fmt = self._format(request, default="JSON")
        if fmt == "FLAT":
            return self.json_response(opt.example_flat(template), 200, FLAT_TYPE)
        return self.json_response(opt.example_composition(template))

    # -- AQL -------------------------------------------------------------------------------------

    def query(self, request: Request) -> Response:
        if "json" not in (request.content_type or ""):
            raise HttpError(415, f"Content-Type '{request.content_type}' is not supported")
        body = _json_body(request)
        if not isinstance(body, dict):
            raise HttpError(400, "No query provided.")
        with self.lock:
            self.aql_requests.append(json.loads(json.dumps(body)))
        q = body.get("q")
        if isinstance(q, list):
            raise HttpError(400, "Multiple queries provided.")
        if not isinstance(q, str) or not q.strip():
            raise HttpError(400, "No query provided.")
        parameters = body.get("query_parameters") or {}
        if not isinstance(parameters, dict):
            raise HttpError(400, "query_parameters must be an object")
        offset, fetch = body.get("offset"), body.get("fetch")
        for name, value in (("offset", offset), ("fetch", fetch)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise HttpError(400, f"Invalid {name}: {value!r}")
        try:
            parsed = aql.parse(q)
        except aql.AqlError as exc:
            raise HttpError(400, f"Could not parse AQL query: {exc}") from None
        if parsed.limit is not None and (fetch is not None or offset is not None):
            raise HttpError(
                422,
                "Query contains a LIMIT clause, fetch and offset parameters must not be used "
                "(see AQL specification)",
            )
        with self.lock:
            by_ehr: dict[str, list[dict[str, Any]]] = {}
            for composition in self.compositions.values():
                if not composition.deleted:
                    by_ehr.setdefault(composition.ehr_id, []).append(composition.versions[-1])
            sources = [
                aql.Source(
                    ehr={
                        "_type": "EHR",
                        "ehr_id": {"_type": "HIER_OBJECT_ID", "value": record.ehr_id},
                        "system_id": {"_type": "HIER_OBJECT_ID", "value": self.system_id},
                        "time_created": {"_type": "DV_DATE_TIME", "value": record.time_created},
                        "ehr_status": record.status,
                    },
                    compositions=by_ehr.get(record.ehr_id, []),
                )
                for record in self.ehrs.values()
            ]
        try:
            rows = aql.execute(parsed, sources, parameters)
            if self.foreign_subject is not None and "subject_id" in parameters:
                other = {**parameters, "subject_id": self.foreign_subject}
                theirs = aql.execute(parsed, sources, other)
                rows = theirs if self.foreign_only else theirs + rows
        except aql.AqlParameterError as exc:
            raise HttpError(
                400, f"Could not parse AQL query: missing query parameter(s) {exc}"
            ) from None
        start = parsed.offset if parsed.limit is not None else offset
        count = parsed.limit if parsed.limit is not None else fetch
        limited = count is not None or start is not None
        rows = rows[(start or 0) :]
        if count is not None:
            rows = rows[:count]
        meta: dict[str, Any] = {
            "_type": "RESULTSET",
            "_schema_version": "1.0.3",
            "_created": datetime.now(UTC).astimezone().isoformat(),
            "_executed_aql": aql.render(q, parsed, parameters, offset, fetch),
            "resultsize": len(rows),
        }
        if limited:
            if count is not None:
                meta["fetch"] = count
            meta["offset"] = start or 0
        columns = [
            {"path": path.text, "name": alias or f"#{index}"}
            for index, (path, alias) in enumerate(parsed.select)
        ]
        return self.json_response({"meta": meta, "q": q, "columns": columns, "rows": rows})


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise HttpError(400, f"JSON parse error: {exc}") from None


def _accepts(request: Request, media_type: str) -> bool:
    return media_type in request.headers.get("Accept", "")


def _prefers_xml(request: Request) -> bool:
    accept = request.headers.get("Accept", "")
    xml_at = accept.find("xml")
    json_at = accept.find("json")
    return xml_at != -1 and (json_at == -1 or xml_at < json_at)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def start_ehrbase_emulator(
    port: int = 0,
    user: str = DEFAULT_USER[0],
    password: str = DEFAULT_USER[1],
    admin_user: str = DEFAULT_ADMIN[0],
    admin_password: str = DEFAULT_ADMIN[1],
) -> tuple[EmulatorServer, str]:
    """Start the emulator on 127.0.0.1; returns the server and the base URL (``.../ehrbase``).

    The emulator itself (state, ``aql_requests``) is ``emulator_of(server)``.
    """
    app = EhrbaseEmulator(
        user=user, password=password, admin_user=admin_user, admin_password=admin_password
    )
    server = EmulatorServer(app, port=port)
    root = server.start()
    return server, root + PREFIX


def emulator_of(server: EmulatorServer) -> EhrbaseEmulator:
    """The EHRbase emulator app behind a server started by ``start_ehrbase_emulator``."""
    app = server.injector.app
    assert isinstance(app, EhrbaseEmulator)
    return app


def start_sandbox_ehrbase(
    patient_ids: Iterable[str],
    *,
    port: int = 0,
    namespace: str = "fhir",
    seed: int = 0,
    workers: int = 4,
) -> tuple[EmulatorServer, dict[str, str], Any]:
    """The quick start's EHRbase: the emulator with the letter template and each patient's letters.

    Returns the server, the environment variables pointing the console at it (``EHRBASE_URL``
    and the two accounts) and the ``LoadReport``.
    """
    from console.fhir.breaker import CircuitBreaker
    from console.openehr.client import EhrbaseClient
    from console.sandbox.letters import load_letters

    server, url = start_ehrbase_emulator(port)
    env = {
        "EHRBASE_URL": url,
        "EHRBASE_API_USER": DEFAULT_USER[0],
        "EHRBASE_API_PASSWORD": DEFAULT_USER[1],
        "EHRBASE_API_ADMIN_USER": DEFAULT_ADMIN[0],
        "EHRBASE_API_ADMIN_PASSWORD": DEFAULT_ADMIN[1],
    }
    client = EhrbaseClient(
        url,
        user=DEFAULT_USER[0],
        password=DEFAULT_USER[1],
        admin_user=DEFAULT_ADMIN[0],
        admin_password=DEFAULT_ADMIN[1],
        breaker=CircuitBreaker(failure_threshold=1000),
        pool_size=max(4, workers),
    )
    try:
        report = load_letters(
            client, list(patient_ids), namespace=namespace, seed=seed, workers=workers
        )
    finally:
        client.close()
    return server, env, report
