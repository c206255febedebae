"""Health endpoints, the status page, ``flask check`` and the structured request log."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask

bp = Blueprint("ops", __name__)

from console.ops import views as routes  # noqa: E402,F401  (register the views on the blueprint)


def init_app(app: Flask) -> None:
    """JSON logs with a request id on every request, and the state the checks keep."""
    from console.ops import request_log
    from console.ops import services as service

    settings = app.config["SETTINGS"]
    request_log.configure_logging(app, settings.LOG_LEVEL)
    request_log.init_app(app)
    service.init_app(app)
    # The start-up warning for variables no longer read (names only, never their values).
    for item in settings.deprecations:
        logging.getLogger("console.config").warning(
            item.message, extra={"fields": {"event": "deprecated_variable", "variable": item.name}}
        )
