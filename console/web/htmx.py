"""Small helpers the administration views share: htmx fragments, streamed CSV responses."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (not a boosted full page)."""
    return (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    )


def paged_by_link() -> bool:
    """True when htmx sent this request from a paging link (focus then moves to the results)."""
    return is_htmx() and request.headers.get("HX-Trigger", "").startswith("page-")


def page_or_fragment(
    page_template: str, fragment_template: str, status: int = 200, /, **context: Any
) -> ResponseReturnValue:
    """The fragment for htmx requests, the full page otherwise (``Vary`` says so to caches)."""
    template = fragment_template if is_htmx() else page_template
    body = render_template(template, htmx=is_htmx(), focus_results=paged_by_link(), **context)
    return body, status, {"Vary": "HX-Request"}
