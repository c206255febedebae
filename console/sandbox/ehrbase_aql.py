"""The subset of AQL the EHRbase emulator understands, parsed for real and evaluated.

Supported: ``SELECT [DISTINCT] path [AS alias], ...`` ``FROM EHR e [CONTAINS COMPOSITION c[archetype]
[CONTAINS <ENTRY TYPE> x[archetype]]]`` (or ``FROM COMPOSITION c``), ``WHERE`` comparisons
(``= != > >= < <=``, and ``LIKE`` with ``*`` and ``?`` wildcards matching the whole value,
case-sensitively, ``\\`` escaping a wildcard) joined by ``AND`` whose right side is a
``$parameter`` or a literal,
``ORDER BY path [ASC|DESC], ...`` and ``LIMIT n [OFFSET m]``. Anything else (OR, NOT,
parentheses, functions, EXISTS, MATCHES, aggregates, EHR predicates) raises
``AqlError`` so the emulator answers 400 instead of returning wrong rows.

Parameters are bound after parsing, as values: a parameter can never change the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONTAINABLE = {"COMPOSITION", "EVALUATION", "OBSERVATION", "ADMIN_ENTRY", "INSTRUCTION", "ACTION", "SECTION", "CLUSTER", "ELEMENT"}  # fmt: skip
KEYWORDS = {"SELECT", "DISTINCT", "AS", "FROM", "CONTAINS", "WHERE", "AND", "ORDER", "BY", "ASC", "DESC", "ASCENDING", "DESCENDING", "LIMIT", "OFFSET", "LIKE"}  # fmt: skip
UNSUPPORTED = {"OR", "NOT", "XOR", "EXISTS", "MATCHES", "TOP", "COUNT", "MAX", "MIN", "AVG", "SUM", "VERSION"}  # fmt: skip

TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op>>=|<=|!=|=|>|<)
  | (?P<comma>,)
  | (?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?(?:/[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?)*)
    """,
    re.VERBOSE,
)
SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<pred>[^\]]*)\])?$")


class AqlError(ValueError):
    """The query cannot be parsed (or uses what the emulator does not support)."""


class AqlParameterError(ValueError):
    """A ``$parameter`` of the query was not supplied."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Path:
    variable: str
    segments: tuple[tuple[str, str | None], ...]
    text: str


@dataclass(frozen=True)
class Operand:
    kind: str  # "param" | "literal"
    value: Any


@dataclass(frozen=True)
class Condition:
    path: Path
    op: str
    operand: Operand


@dataclass
class Query:
    select: list[tuple[Path, str | None]]
    ehr_var: str | None
    composition_var: str | None
    composition_archetype: str | None
    entry: tuple[str, str, str | None] | None  # (rm type, variable, archetype)
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[Path, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    distinct: bool = False

    def parameters(self) -> set[str]:
        return {c.operand.value for c in self.where if c.operand.kind == "param"}


def tokenize(q: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(q):
        match = TOKEN.match(q, position)
        if not match:
            raise AqlError(
                f"unexpected input at position {position}: {q[position : position + 20]!r}"
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, q: str) -> None:
        self.tokens = tokenize(q)
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise AqlError("unexpected end of query")
        self.position += 1
        return token

    def keyword(self, word: str, optional: bool = False) -> bool:
        token = self.peek()
        if token is not None and token.kind == "path" and token.text.upper() == word:
            self.position += 1
            return True
        if optional:
            return False
        raise AqlError(f"expected {word}, found {token.text if token else 'end of query'!r}")

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "path" and token.text.upper() in words

    def path(self) -> Path:
        token = self.next()
        if token.kind != "path":
            raise AqlError(f"expected a path, found {token.text!r}")
        upper = token.text.upper()
        if upper in UNSUPPORTED or (self.peek() is not None and self.peek().text == "("):  # type: ignore[union-attr]
            raise AqlError(f"{token.text} is not supported")
        if upper in KEYWORDS:
            raise AqlError(f"unexpected keyword {token.text}")
        parts = token.text.split("/")
        first = SEGMENT.match(parts[0])
        if not first or first.group("pred") is not None:
            raise AqlError(f"invalid path {token.text!r}")
        segments = []
        for part in parts[1:]:
            match = SEGMENT.match(part)
            if not match:
                raise AqlError(f"invalid path segment {part!r}")
            predicate = match.group("pred")
            if predicate is not None and (
                "," in predicate or "=" in predicate or not predicate.strip()
            ):
                raise AqlError(f"predicate [{predicate}] is not supported")
            segments.append((match.group("name"), predicate.strip() if predicate else None))
        return Path(first.group("name"), tuple(segments), token.text)

    def variable(self) -> tuple[str, str | None]:
        token = self.next()
        match = SEGMENT.match(token.text) if token.kind == "path" else None
        if not match or "/" in token.text:
            raise AqlError(f"expected a variable, found {token.text!r}")
        predicate = match.group("pred")
        if predicate is not None and not re.match(
            r"^openEHR-EHR-[A-Z_]+\.[\w-]+\.v\d+$", predicate.strip()
        ):
            raise AqlError(f"predicate [{predicate}] is not supported here")
        return match.group("name"), predicate.strip() if predicate else None

    def operand(self) -> Operand:
        token = self.next()
        if token.kind == "param":
            return Operand("param", token.text[1:])
        if token.kind == "string":
            body = token.text[1:-1]
            return Operand("literal", re.sub(r"\\(.)", r"\1", body))
        if token.kind == "number":
            return Operand("literal", float(token.text) if "." in token.text else int(token.text))
        if token.kind == "path" and token.text.lower() in ("true", "false"):
            return Operand("literal", token.text.lower() == "true")
        raise AqlError(f"expected a value or $parameter, found {token.text!r}")

    def parse(self) -> Query:
        self.keyword("SELECT")
        distinct = self.keyword("DISTINCT", optional=True)
        select: list[tuple[Path, str | None]] = []
        while True:
            path = self.path()
            alias = None
            if self.keyword("AS", optional=True):
                token = self.next()
                if token.kind != "path" or "/" in token.text or "[" in token.text:
                    raise AqlError(f"invalid alias {token.text!r}")
                alias = token.text
            select.append((path, alias))
            token = self.peek()
            if token is None or token.kind != "comma":
                break
            self.next()
        self.keyword("FROM")
        query = Query(
            select=select,
            ehr_var=None,
            composition_var=None,
            composition_archetype=None,
            entry=None,
            distinct=distinct,
        )
        rm = self.next()
        if rm.kind != "path":
            raise AqlError(f"expected a class name after FROM, found {rm.text!r}")
        if rm.text.upper() == "EHR":
            name, predicate = self.variable()
            if predicate is not None:
                raise AqlError("EHR predicates are not supported; use WHERE with $parameters")
            query.ehr_var = name
            if self.keyword("CONTAINS", optional=True):
                self.keyword("COMPOSITION")
                query.composition_var, query.composition_archetype = self.variable()
        elif rm.text.upper() == "COMPOSITION":
            query.composition_var, query.composition_archetype = self.variable()
        else:
            raise AqlError(f"FROM {rm.text} is not supported")
        if query.composition_var and self.keyword("CONTAINS", optional=True):
            entry_type = self.next().text.upper()
            if entry_type not in CONTAINABLE - {"COMPOSITION"}:
                raise AqlError(f"CONTAINS {entry_type} is not supported")
            name, predicate = self.variable()
            query.entry = (entry_type, name, predicate)
            if self.at_keyword("CONTAINS"):
                raise AqlError("only two levels of CONTAINS are supported")
        if self.keyword("WHERE", optional=True):
            while True:
                path = self.path()
                if self.keyword("LIKE", optional=True):
                    query.where.append(Condition(path, "LIKE", self.operand()))
                    if not self.keyword("AND", optional=True):
                        break
                    continue
                op = self.next()
                if op.kind != "op":
                    raise AqlError(f"expected a comparison after {path.text}, found {op.text!r}")
                query.where.append(Condition(path, op.text, self.operand()))
                if not self.keyword("AND", optional=True):
                    break
        if self.keyword("ORDER", optional=True):
            self.keyword("BY")
            while True:
                path = self.path()
                descending = False
                if self.at_keyword("DESC", "DESCENDING"):
                    self.next()
                    descending = True
                elif self.at_keyword("ASC", "ASCENDING"):
                    self.next()
                query.order.append((path, descending))
                token = self.peek()
                if token is None or token.kind != "comma":
                    break
                self.next()
        if self.keyword("LIMIT", optional=True):
            query.limit = self._int()
            if self.keyword("OFFSET", optional=True):
                query.offset = self._int()
        leftover = self.peek()
        if leftover is not None:
            raise AqlError(f"unexpected {leftover.text!r}")
        variables = {
            v for v in (query.ehr_var, query.composition_var, query.entry and query.entry[1]) if v
        }
        for path in (
            [p for p, _ in query.select]
            + [c.path for c in query.where]
            + [p for p, _ in query.order]
        ):
            if path.variable not in variables:
                raise AqlError(f"unknown variable {path.variable!r} in {path.text}")
        return query

    def _int(self) -> int:
        token = self.next()
        if token.kind != "number" or "." in token.text or token.text.startswith("-"):
            raise AqlError(f"expected a whole number, found {token.text!r}")
        return int(token.text)


def parse(q: str) -> Query:
    """Parse an AQL query; raises ``AqlError``."""
    if not isinstance(q, str) or not q.strip():
        raise AqlError("empty query")
    return _Parser(q).parse()


# -- evaluation ------------------------------------------------------------------------------------


def resolve(obj: Any, segments: tuple[tuple[str, str | None], ...]) -> Any:
    """Follow a path through canonical JSON (node predicates pick by archetype_node_id)."""
    current = obj
    for name, predicate in segments:
        if not isinstance(current, dict):
            return None
        current = current.get(name)
        if isinstance(current, list):
            current = next(
                (
                    item
                    for item in current
                    if isinstance(item, dict)
                    and (predicate is None or item.get("archetype_node_id") == predicate)
                ),
                None,
            )
        elif predicate is not None and (
            not isinstance(current, dict) or current.get("archetype_node_id") != predicate
        ):
            return None
    return current


TEMPORAL_TYPES = {"DV_DATE_TIME", "DV_DATE", "DV_TIME"}
"""Data values EHRbase compares by the time they name (DV_ORDERED), not by their text."""


def _is_temporal(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_type") in TEMPORAL_TYPES


def _instant(value: Any) -> tuple[int, Any]:
    if not isinstance(value, str):
        return (3, str(value))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return (2, value)
    return (0, parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _comparable(value: Any, *, temporal: bool = False) -> tuple[int, Any]:
    """What EHRbase compares: a path ending at a DV_DATE_TIME (or DV_DATE, DV_TIME) by the
    instant it names, and a string, such as that data value's ``/value``, as text."""
    if _is_temporal(value):
        return _instant(value.get("value"))
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return _instant(value) if temporal else (2, value)
    return (3, str(value))


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def like_pattern(pattern: str) -> re.Pattern[str]:
    """AQL ``LIKE``: ``*`` any run of characters, ``?`` one, ``\\`` takes the next literally."""
    parts, escaped = [], False
    for ch in pattern:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.S)


def _matches(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return False
    if op == "LIKE":
        if not isinstance(left, str) or not isinstance(right, str):
            return False
        return like_pattern(right).fullmatch(left) is not None
    a, b = _comparable(left), _comparable(right, temporal=_is_temporal(left))
    if a[0] != b[0]:
        return op == "!="
    return COMPARE[op](a[1], b[1])


def _descendants(obj: Any) -> Iterator[dict[str, Any]]:
    if isinstance(obj, dict):
        for value in obj.values():
            if isinstance(value, dict):
                yield value
                yield from _descendants(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        yield item
                        yield from _descendants(item)


@dataclass(frozen=True)
class Source:
    """What a query runs over: EHR objects, each with its compositions (canonical JSON)."""

    ehr: dict[str, Any]
    compositions: list[dict[str, Any]]


def execute(query: Query, sources: list[Source], parameters: dict[str, Any]) -> list[list[Any]]:
    """All result rows (before offset/fetch), ordered as the query says."""
    missing = sorted(query.parameters() - set(parameters))
    if missing:
        raise AqlParameterError(", ".join(f"${name}" for name in missing))

    def bound(operand: Operand) -> Any:
        return parameters[operand.value] if operand.kind == "param" else operand.value

    def holds(binding: dict[str, Any], variables: set[str]) -> bool:
        """The WHERE conditions that only need ``variables`` hold for this binding."""
        return all(
            _matches(resolve(binding[c.path.variable], c.path.segments), c.op, bound(c.operand))
            for c in query.where
            if c.path.variable in variables
        )

    ehr_scope = {query.ehr_var} if query.ehr_var else set()
    composition_scope = ehr_scope | ({query.composition_var} if query.composition_var else set())
    rows: list[dict[str, Any]] = []
    for source in sources:
        ehr_binding = {query.ehr_var: source.ehr} if query.ehr_var else {}
        if not holds(ehr_binding, ehr_scope):
            continue  # conditions on the EHR alone are checked before its compositions
        if query.composition_var is None:
            rows.append(ehr_binding)
            continue
        for composition in source.compositions:
            if (
                query.composition_archetype
                and composition.get("archetype_node_id") != query.composition_archetype
            ):
                continue
            base = {**ehr_binding, query.composition_var: composition}
            if not holds(base, composition_scope):
                continue
            if query.entry is None:
                rows.append(base)
                continue
            rm_type, variable, archetype = query.entry
            for item in _descendants(composition):
                if item.get("_type") == rm_type and (
                    archetype is None or item.get("archetype_node_id") == archetype
                ):
                    binding = {**base, variable: item}
                    if holds(binding, composition_scope | {variable}):
                        rows.append(binding)
    for path, descending in reversed(query.order):
        rows.sort(
            key=lambda b, p=path: (
                resolve(b[p.variable], p.segments) is None,
                _comparable(resolve(b[p.variable], p.segments)),
            ),
            reverse=descending,
        )
    result = [[resolve(b[p.variable], p.segments) for p, _ in query.select] for b in rows]
    if query.distinct:
        unique: list[list[Any]] = []
        for row in result:
            if row not in unique:
                unique.append(row)
        result = unique
    return result


def render(
    q: str, query: Query, parameters: dict[str, Any], offset: int | None, fetch: int | None
) -> str:
    """The executed AQL: parameters rendered as literals and fetch/offset as LIMIT/OFFSET."""

    def literal(match: re.Match[str]) -> str:
        value = parameters.get(match.group(1))
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return match.group(0) if value is None else str(value)

    text = re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", literal, q.strip())
    if fetch is not None:
        text += f" LIMIT {fetch}"
        if offset:
            text += f" OFFSET {offset}"
    return text
