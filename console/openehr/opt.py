"""Checks on ADL 1.4 operational templates (OPT XML) before they are sent to EHRbase.

``check_opt(data)`` returns an ``OptSummary`` or raises ``TemplateInvalid`` listing every
problem found: not well-formed XML, not an openEHR ``<template>``, no ``template_id`` or
``concept``, a definition not rooted at a COMPOSITION archetype, archetype ids that do not
match their RM type, node ids without term definitions, impossible occurrence intervals.
These are the checks this machine can make without the archetypes themselves; EHRbase
still has the last word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedElementTree

from console.openehr.errors import TemplateInvalid

NS = "http://schemas.openehr.org/v1"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_OPT_BYTES = 5 * 1024 * 1024

ARCHETYPE_ID = re.compile(
    r"^openEHR-EHR-(?P<rm>[A-Z][A-Z_]*)\.[A-Za-z0-9][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*\.v\d+(\.\d+)*$"
)
NODE_ID = re.compile(r"^at\d{4}(\.\d+)*$")
CONTAINER_TYPES = {"C_COMPLEX_OBJECT", "C_ARCHETYPE_ROOT", "ARCHETYPE_SLOT"}


@dataclass(frozen=True)
class OptSummary:
    """What the console needs to know about a valid OPT."""

    template_id: str
    concept: str
    root_archetype_id: str
    language: str
    archetype_ids: tuple[str, ...]


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _text(element: ElementTree.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(_qp(path))
    return (found.text or "").strip() if found is not None else ""


def _qp(path: str) -> str:
    return "/".join(_q(part) for part in path.split("/"))


def _parse(data: bytes | str) -> ElementTree.Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw.strip():
        raise TemplateInvalid(["The file is empty."])
    if len(raw) > MAX_OPT_BYTES:
        raise TemplateInvalid([f"The file is larger than {MAX_OPT_BYTES // (1024 * 1024)} MB."])
    # defusedxml refuses a DTD, entity declarations and external references whatever the
    # file's encoding (a byte search for "<!ENTITY" misses UTF-16).
    try:
        return DefusedElementTree.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise TemplateInvalid(
            ["The file declares a DTD or entities, which an OPT never does."]
        ) from None
    except ElementTree.ParseError as exc:
        raise TemplateInvalid([f"The file is not well-formed XML: {exc}."]) from None


def _interval_problems(element: ElementTree.Element, tag: str, where: str) -> list[str]:
    interval = element.find(_q(tag))
    if interval is None:
        return []
    problems = []
    lower_text, upper_text = _text(interval, "lower"), _text(interval, "upper")
    try:
        lower = int(lower_text) if lower_text else None
        upper = int(upper_text) if upper_text else None
    except ValueError:
        return [f"The {tag} of {where} are not whole numbers."]
    if lower is not None and lower < 0:
        problems.append(f"The {tag} of {where} start below zero.")
    if lower is not None and upper is not None and lower > upper:
        problems.append(
            f"The {tag} of {where} have a lower bound ({lower}) above the upper ({upper})."
        )
    return problems


@dataclass
class _Archetype:
    archetype_id: str
    where: str
    element: ElementTree.Element
    used_codes: dict[str, str]


def _walk(
    element: ElementTree.Element, path: str, archetype: _Archetype, found: list[_Archetype]
) -> Iterator[str]:
    """Yield problems below a C_OBJECT, recording archetype roots and the codes they use."""
    for attribute in element.findall(_q("attributes")):
        name = _text(attribute, "rm_attribute_name")
        if not name:
            yield f"An attribute under {path or '/'} has no rm_attribute_name."
            continue
        yield from _interval_problems(attribute, "existence", f"{path}/{name}")
        cardinality = attribute.find(_q("cardinality"))
        if cardinality is not None:
            yield from _interval_problems(cardinality, "interval", f"{path}/{name}")
        for child in attribute.findall(_q("children")):
            yield from _child(child, f"{path}/{name}", archetype, found)


def _child(
    child: ElementTree.Element, parent_path: str, archetype: _Archetype, found: list[_Archetype]
) -> Iterator[str]:
    kind = child.get(XSI_TYPE, "").split(":")[-1]
    rm_type = _text(child, "rm_type_name")
    node_id = _text(child, "node_id")
    if not rm_type:
        yield f"A constraint under {parent_path} has no rm_type_name."
    if node_id and not NODE_ID.match(node_id):
        yield f"The node id “{node_id}” under {parent_path} is not an at-code."
    if kind == "C_ARCHETYPE_ROOT":
        archetype_id = _text(child, "archetype_id/value")
        path = f"{parent_path}[{archetype_id or '?'}]"
        yield from _interval_problems(child, "occurrences", path)
        match = ARCHETYPE_ID.match(archetype_id)
        if not match:
            yield f"The archetype id “{archetype_id}” at {parent_path} is not a valid openEHR archetype id."
        elif rm_type and match.group("rm") != rm_type:
            yield f"The archetype {archetype_id} constrains {rm_type}, not {match.group('rm')}."
        nested = _Archetype(archetype_id, path, child, {})
        if node_id:
            nested.used_codes[node_id] = path
        found.append(nested)
        yield from _walk(child, path, nested, found)
        return
    path = f"{parent_path}[{node_id}]" if node_id else parent_path
    yield from _interval_problems(child, "occurrences", path)
    if node_id:
        archetype.used_codes.setdefault(node_id, path)
    if kind == "C_CODE_PHRASE" and _text(child, "terminology_id/value") == "local":
        for code in child.findall(_q("code_list")):
            value = (code.text or "").strip()
            if value:
                archetype.used_codes.setdefault(value, f"{path} (local code)")
    if kind in CONTAINER_TYPES or not kind:
        yield from _walk(child, path, archetype, found)


def _term_problems(archetype: _Archetype) -> Iterator[str]:
    defined: dict[str, bool] = {}
    for term in archetype.element.findall(_q("term_definitions")):
        code = term.get("code", "")
        if code in defined:
            yield f"{archetype.archetype_id} defines the term {code} twice."
        has_text = any(
            item.get("id") == "text" and (item.text or "").strip()
            for item in term.findall(_q("items"))
        )
        defined[code] = has_text
    if "at0000" not in defined:
        yield f"{archetype.archetype_id} has no term definition for its root node at0000."
    for code, where in sorted(archetype.used_codes.items()):
        if code not in defined:
            yield f"{archetype.archetype_id} uses {code} at {where} but defines no term for it."
        elif not defined[code]:
            yield f"The term {code} of {archetype.archetype_id} has no text."


def read_opt(data: bytes | str) -> tuple[OptSummary | None, list[str]]:
    """Parse and check an OPT; return its summary (when readable) and the problems found."""
    try:
        root = _parse(data)
    except TemplateInvalid as exc:
        return None, exc.problems
    if root.tag != _q("template"):
        local = root.tag.split("}")[-1]
        return None, [
            f"The root element is <{local}>; an OPT's root is <template> in the openEHR "
            f"namespace ({NS})."
        ]
    problems: list[str] = []
    template_id = _text(root, "template_id/value")
    concept = _text(root, "concept")
    language = _text(root, "language/code_string")
    if not template_id:
        problems.append("The template has no template_id.")
    if not concept:
        problems.append("The template has no concept.")
    if not language:
        problems.append("The template has no language.")
    definition = root.find(_q("definition"))
    if definition is None:
        problems.append("The template has no definition.")
        return None, problems
    rm_type = _text(definition, "rm_type_name")
    root_id = _text(definition, "archetype_id/value")
    if rm_type != "COMPOSITION":
        problems.append(f"The definition is rooted at {rm_type or 'nothing'}, not a COMPOSITION.")
    match = ARCHETYPE_ID.match(root_id)
    if not match:
        problems.append(
            f"The definition's archetype id “{root_id}” is not a valid openEHR archetype id."
        )
    elif match.group("rm") != "COMPOSITION":
        problems.append(f"The definition's archetype {root_id} is not a COMPOSITION archetype.")
    if _text(definition, "node_id") != "at0000":
        problems.append("The definition's node id is not at0000.")
    inner_template_id = _text(definition, "template_id/value")
    if inner_template_id and template_id and inner_template_id != template_id:
        problems.append(
            f"The definition names template {inner_template_id}, the template is {template_id}."
        )
    top = _Archetype(root_id or "the root archetype", f"[{root_id}]", definition, {"at0000": "/"})
    archetypes = [top]
    problems.extend(_interval_problems(definition, "occurrences", "/"))
    problems.extend(_walk(definition, "", top, archetypes))
    for archetype in archetypes:
        problems.extend(_term_problems(archetype))
    summary = OptSummary(
        template_id=template_id,
        concept=concept,
        root_archetype_id=root_id,
        language=language,
        archetype_ids=tuple(dict.fromkeys(a.archetype_id for a in archetypes)),
    )
    return summary, problems


def check_opt(data: bytes | str) -> OptSummary:
    """The summary of a valid OPT; raises ``TemplateInvalid`` listing every problem otherwise."""
    summary, problems = read_opt(data)
    if problems or summary is None:
        raise TemplateInvalid(problems or ["The template could not be read."])
    return summary
