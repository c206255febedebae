"""Small helpers the administration views share: htmx fragments, streamed CSV responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, render_template, request, stream_with_context
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


def csv_response(filename_stem: str, chunks: Iterator[str]) -> Response:
    """A streamed CSV download (UTF-8 with BOM), named with the time of the export."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = Response(
        stream_with_context(chunk.encode("utf-8") for chunk in chunks),
        mimetype="text/csv",
    )
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename_stem}-{stamp}.csv"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
