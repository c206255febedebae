"""Keyset (seek) pagination: one sort column plus the primary key as a tie-break.

Pages are found with ``WHERE (column, id) > (last value, last id)`` instead of ``OFFSET``, so
a page costs the same at row 10 and at row 1,000,000, and rows inserted or deleted elsewhere
never shift a page by one (no row is shown twice or skipped at a page boundary).

A nullable sort column is read in two segments: the rows with a value, in order, then the
rows without one (always last, whatever the direction), each by an index-friendly query.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from console.db import db

VALUES = "v"
NULLS = "n"


@dataclass(frozen=True)
class SortSpec:
    """How one listing is ordered: by ``column`` (then ``id_column``), either way."""

    column: InstrumentedAttribute[Any]
    id_column: InstrumentedAttribute[Any]
    descending: bool = False
    nullable: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        """The segments in reading order: rows with a value, then (if nullable) rows without."""
        return (VALUES, NULLS) if self.nullable else (VALUES,)


@dataclass(frozen=True)
class Cursor:
    """A position in a listing: the segment, the sort value and the id of one row."""

    segment: str
    value: Any
    row_id: int | str

    def encode(self) -> str:
        """An opaque, URL-safe token for links."""
        value = self.value
        if isinstance(value, datetime):
            value = {"t": value.isoformat()}
        raw = json.dumps([self.segment, value, self.row_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        """The cursor in ``token``, or None when it is missing or not one of ours."""
        if not token or len(token) > 1024:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            segment, value, row_id = json.loads(raw)
            if isinstance(value, dict):
                value = datetime.fromisoformat(value["t"])
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            return None
        if segment not in (VALUES, NULLS) or type(row_id) not in (int, str):
            return None
        if segment == VALUES and not isinstance(value, str | int | float | datetime):
            return None
        return cls(segment, value if segment == VALUES else None, row_id)


@dataclass
class KeysetPage:
    """One page of rows and the cursors of the neighbouring pages."""

    rows: list[Any]
    next_cursor: str | None
    prev_cursor: str | None


def cursor_for(row: Any, spec: SortSpec) -> Cursor:
    """The position of ``row`` in a listing ordered by ``spec``."""
    value = getattr(row, spec.column.key)
    row_id = getattr(row, spec.id_column.key)
    return Cursor(NULLS if value is None else VALUES, value, row_id)


def _segment_query(
    base: Select[Any], spec: SortSpec, segment: str, descending: bool, after: Cursor | None
) -> Select[Any]:
    """Rows of one segment, in the given direction, strictly after ``after`` when given."""
    column, id_column = spec.column, spec.id_column
    stmt = base
    if spec.nullable:
        stmt = stmt.where(column.is_(None) if segment == NULLS else column.is_not(None))
    if segment == VALUES:
        if after is not None:
            key, bound = tuple_(column, id_column), tuple_(after.value, after.row_id)
            # The plain comparison is redundant but lets the database use an index range.
            stmt = stmt.where(
                column <= after.value if descending else column >= after.value,
                key < bound if descending else key > bound,
            )
        order = (column.desc(), id_column.desc()) if descending else (column, id_column)
    else:
        if after is not None:
            stmt = stmt.where(id_column < after.row_id if descending else id_column > after.row_id)
        order = (id_column.desc(),) if descending else (id_column,)
    return stmt.order_by(*order)


def _collect(
    base: Select[Any],
    spec: SortSpec,
    segments: Sequence[str],
    descending: bool,
    start: Cursor | None,
    wanted: int,
    fetch: Callable[[Select[Any]], list[Any]],
) -> list[Any]:
    """Up to ``wanted`` rows walking ``segments`` in order from ``start`` (exclusive)."""
    rows: list[Any] = []
    began = start is None
    for segment in segments:
        if not began:
            if segment != start.segment:  # type: ignore[union-attr]
                continue
            began = True
            after = start
        else:
            after = None
        stmt = _segment_query(base, spec, segment, descending, after)
        rows.extend(fetch(stmt.limit(wanted - len(rows))))
        if len(rows) >= wanted:
            break
    return rows


def _fetch_scalars(stmt: Select[Any]) -> list[Any]:
    return list(db.session.scalars(stmt))


def fetch_page(
    base: Select[Any],
    spec: SortSpec,
    per_page: int,
    *,
    after: str | None = None,
    before: str | None = None,
    fetch: Callable[[Select[Any]], list[Any]] = _fetch_scalars,
) -> KeysetPage:
    """The page after the ``after`` cursor, before the ``before`` cursor, or the first page."""
    backward_from = Cursor.decode(before) if before else None
    forward_from = Cursor.decode(after) if after and backward_from is None else None
    segments = spec.segments
    if backward_from is not None:
        rows = _collect(
            base,
            spec,
            tuple(reversed(segments)),
            not spec.descending,
            backward_from,
            per_page + 1,
            fetch,
        )
        if not rows:  # nothing before it any more: start again from the top
            return fetch_page(base, spec, per_page, fetch=fetch)
        has_previous = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        return KeysetPage(
            rows,
            next_cursor=cursor_for(rows[-1], spec).encode(),
            prev_cursor=cursor_for(rows[0], spec).encode() if has_previous else None,
        )
    rows = _collect(base, spec, segments, spec.descending, forward_from, per_page + 1, fetch)
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    first_page = forward_from is None
    return KeysetPage(
        rows,
        next_cursor=cursor_for(rows[-1], spec).encode() if has_next and rows else None,
        prev_cursor=(
            None
            if first_page
            else (cursor_for(rows[0], spec).encode() if rows else forward_from.encode())  # type: ignore[union-attr]
        ),
    )


def ordered(base: Select[Any], spec: SortSpec) -> Select[Any]:
    """The whole listing in page order as one statement (for streamed exports)."""
    column, id_column = spec.column, spec.id_column
    if spec.descending:
        first = column.desc().nulls_last() if spec.nullable else column.desc()
        return base.order_by(first, id_column.desc())
    first = column.asc().nulls_last() if spec.nullable else column.asc()
    return base.order_by(first, id_column)
