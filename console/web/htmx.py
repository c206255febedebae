"""htmx requests, read through htmx-flask's ``request.htmx``: who wants a fragment, who a redirect."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from htmx_flask import request


def from_htmx() -> bool:
    """True for any request htmx made (it follows ``HX-Redirect`` rather than a 302)."""
    return bool(request.htmx)


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment: not a boosted navigation and not a
    history restore, which both want the whole page."""
    return (
        bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request
    )


def paged_by_link() -> bool:
    """True when htmx sent this request from a paging link (focus then moves to the results)."""
    return is_htmx() and (request.htmx.trigger or "").startswith("page-")


def page_or_fragment(
    page_template: str, fragment_template: str, status: int = 200, /, **context: Any
) -> ResponseReturnValue:
    """The fragment for htmx requests, the full page otherwise (``Vary`` says so to caches)."""
    template = fragment_template if is_htmx() else page_template
    body = render_template(template, htmx=is_htmx(), focus_results=paged_by_link(), **context)
    return body, status, {"Vary": "HX-Request"}
