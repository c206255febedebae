"""Error pages in the console's layout (JSON for the health endpoints)."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Check what you entered and try again."),
    401: ("Sign in required", "Sign in to continue."),
    403: ("Not allowed", "Your roles do not give you access to this page. Ask an administrator if you need it."),
    404: ("Page not found", "There is no page at this address. Check the address or go back to the dashboard."),
    405: ("Not allowed here", "This page cannot be used that way."),
    413: ("Too large", "What you sent is larger than the console accepts."),
    429: ("Too many attempts", "There have been too many requests from your address. Wait a minute and try again."),
    500: ("Something went wrong", "The console could not complete the request. It has been logged; try again shortly."),
}  # fmt: skip


def _wants_json() -> bool:
    return request.path.startswith("/health/")


def render_error(code: int, detail: str | None = None) -> ResponseReturnValue:
    """The error page (or JSON body) for an HTTP status code."""
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    if _wants_json():
        return {"status": "error", "code": code, "error": title}, code
    template = "errors/_fragment.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, code=code, title=title, message=detail or message), code


def init_app(app: Flask) -> None:
    """Register the handlers."""

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

    @app.errorhandler(InternalServerError)
    def _internal(_error: InternalServerError) -> ResponseReturnValue:
        return render_error(500)
