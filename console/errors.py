"""Error pages in the console's layout (JSON for the health endpoints)."""

from __future__ import annotations

import logging
import re
from itertools import chain

from flask import Flask, Response, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from console.web.htmx import from_htmx

log = logging.getLogger(__name__)

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Check what you entered and try again."),
    401: ("Sign in required", "Sign in to continue."),
    403: ("Not allowed", "Your roles do not give you access to this page. Ask an administrator if you need it."),
    404: ("Page not found", "There is no page at this address. Check the address or go back to the dashboard."),
    405: ("Not allowed here", "This page cannot be used that way."),
    413: ("Too large", "What you sent is larger than the console accepts."),
    429: ("Too many attempts", "There have been too many requests from your address. Wait a minute and try again."),
    500: ("Something went wrong", "The console could not complete the request. It has been logged; try again shortly."),
    503: ("The console's database is not answering", "Nothing was changed. Try again in a minute; if it keeps happening, tell the system administrator."),
}  # fmt: skip


def _wants_json() -> bool:
    return request.path.startswith("/health/")


def render_error(code: int, detail: str | None = None) -> ResponseReturnValue:
    """The error page (or JSON body) for an HTTP status code."""
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    if _wants_json():
        return {"status": "error", "code": code, "error": title}, code
    template = "errors/_error.html" if from_htmx() else "errors/error.html"
    return render_template(template, code=code, title=title, message=detail or message), code


NUL_MESSAGE = (
    "What was sent contains a NUL character, which the console does not accept. Check what you "
    "entered, or the address, and try again."
)


def _refuse_nul_characters() -> ResponseReturnValue | None:
    """Refuse a request carrying U+0000 in a query parameter, form field, address part or
    header: nobody types one, and PostgreSQL cannot store or compare text containing it."""
    values = chain(
        (key + value for key, value in request.args.items(multi=True)),
        (key + value for key, value in request.form.items(multi=True)),
        (str(value) for value in (request.view_args or {}).values()),
        request.headers.values(),
    )
    if any("\x00" in value for value in values):
        return render_error(400, NUL_MESSAGE)
    return None


_TITLE = re.compile(r"<title>(?!Error: )")


def _mark_error_title(response: Response) -> Response:
    """Every page answered with an error status has a title starting "Error: ", whichever
    view or handler rendered it, so a screen reader's first words say something went wrong."""
    if (
        response.status_code >= 400
        and response.mimetype == "text/html"
        and not response.is_streamed
        and not response.direct_passthrough
    ):
        body = response.get_data(as_text=True)
        marked = _TITLE.sub("<title>Error: ", body, count=1)
        if marked != body:
            response.set_data(marked)
    return response


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.after_request(_mark_error_title)

    def _refuse_while_database_down() -> ResponseReturnValue | None:
        # Set when the session could not be read: say why instead of showing a sign-in form
        # whose submission could not work either. Health endpoints report for themselves.
        error = g.pop("auth_database_error", None)
        if error is None or request.path.startswith("/health/"):
            return None
        return database_unavailable(error)

    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_while_database_down)
    app.before_request(_refuse_nul_characters)

    from console.auth.stepup import StepUpRequired, ask_to_confirm

    @app.errorhandler(StepUpRequired)
    def _step_up(_error: StepUpRequired) -> ResponseReturnValue:
        return ask_to_confirm()

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError) -> ResponseReturnValue:
        return render_error(
            400,
            "The form had expired or was sent from elsewhere. Go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> ResponseReturnValue:
        if error.code is None or error.code < 400:
            return error
        response = render_error(error.code)
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            body, status = response  # type: ignore[misc]
            return body, status, {"Allow": ", ".join(error.valid_methods)}  # type: ignore[attr-defined]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database(error: DBAPIError) -> ResponseReturnValue:
        if not is_outage(error):
            raise error  # a fault in the statement or schema: the ordinary 500 page and log
        return database_unavailable(error)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError) -> ResponseReturnValue:
        # Errors while saving the session reach here wrapped, not through the handler above.
        original = getattr(error, "original_exception", None)
        if isinstance(original, DBAPIError) and is_outage(original):
            return database_unavailable(original)
        return render_error(500)


def database_unavailable(error: SQLAlchemyError) -> ResponseReturnValue:
    """The auth database is down or could not complete the transaction: roll back, log the
    cause without its statement, and say so on a 503 page drawn without the signed-in user
    (loading them needs the database)."""
    from console.db import db

    try:
        db.session.rollback()
    except DBAPIError:  # the connection is already gone
        db.session.close()
    log.error("auth database unavailable: %s", error)  # statements only: parameters are hidden
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    return render_error(503)


def is_outage(error: DBAPIError) -> bool:
    """True when the database could not be reached or dropped the connection, as opposed to
    a statement it refused (a missing table, a constraint): only the former is a 503."""
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    original = error.orig
    if hasattr(original, "sqlstate"):  # psycopg: no SQLSTATE means the server was never reached
        state = original.sqlstate or ""
        return not state or state.startswith(("08", "57P"))
    text = str(original).lower()
    return "unable to open database" in text or "database is locked" in text
