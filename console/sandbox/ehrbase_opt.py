"""The EHRbase emulator's template knowledge: OPT → web template, FLAT ↔ canonical JSON.

Independent of the console's own OPT checks, so the two can disagree and a test notices.
Supports what simple templates use: a COMPOSITION with an EVENT_CONTEXT, SECTIONs, ENTRY
archetypes (EVALUATION, ADMIN_ENTRY, OBSERVATION events), CLUSTERs and ELEMENTs whose values
are DV_TEXT, DV_CODED_TEXT, DV_QUANTITY, DV_COUNT, DV_BOOLEAN or DV_DATE_TIME. FLAT keys follow
EHRbase's simSDT rules: the tree id is the snake_case node name, ``:N`` only where a node
may occur more than once, ``ctx/*`` defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

NS = "{http://schemas.openehr.org/v1}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ARCHETYPE_ID = re.compile(r"^openEHR-EHR-([A-Z_]+)\.[A-Za-z0-9_]+(-[A-Za-z0-9_]+)*\.v\d+(\.\d+)*$")
STRUCTURAL = {"ITEM_TREE", "ITEM_LIST", "ITEM_SINGLE", "ITEM_TABLE", "HISTORY"}
ENTRY_TYPES = {"EVALUATION", "OBSERVATION", "ADMIN_ENTRY", "INSTRUCTION", "ACTION"}
CTX_KEYS = {
    "language", "territory", "composer_name", "composer_id", "id_namespace", "id_scheme",
    "composer_self", "time", "end_time", "history_origin", "provider_name", "provider_id",
    "health_care_facility|name", "health_care_facility|id", "location", "setting", "work_flow_id",
}  # fmt: skip
SETTINGS = {"238": "other care", "225": "home", "228": "primary medical care"}


class TemplateError(ValueError):
    """The OPT cannot be used (EHRbase: 400 ``Invalid template: ...``)."""


class FlatError(ValueError):
    """FLAT keys the template does not define (EHRbase: 400 ``Could not consume Parts``)."""


class ValidationError(ValueError):
    """The composition breaks the template's constraints (EHRbase: 422)."""


def snake(name: str) -> str:
    """The web template id of a node name: ``Clinical Notes`` → ``clinical_notes``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "node"


@dataclass
class Node:
    """A node of the web template."""

    rm_type: str
    node_id: str
    attribute: str
    name: str
    min: int
    max: int | None
    archetype_id: str | None = None
    multiple_attribute: bool = False
    children: list[Node] = field(default_factory=list)
    value_types: list[str] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    terminology: str | None = None

    @property
    def tree_id(self) -> str:
        return snake(self.name)

    @property
    def repeats(self) -> bool:
        return self.max is None or self.max > 1

    @property
    def predicate(self) -> str:
        return self.archetype_id or self.node_id

    def flat_children(self) -> list[Node]:
        """Children as FLAT sees them: structural containers are looked through."""
        found: list[Node] = []
        for child in self.children:
            if child.rm_type in STRUCTURAL:
                found.extend(child.flat_children())
            else:
                found.append(child)
        return found


@dataclass
class WebTemplate:
    """An uploaded template: its OPT text and the tree the emulator works with."""

    template_id: str
    concept: str
    archetype_id: str
    language: str
    opt: str
    tree: Node
    created: str = field(
        default_factory=lambda: (
            datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    )

    @property
    def tree_id(self) -> str:
        return self.tree.tree_id


def _t(element: ElementTree.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find("/".join(NS + p for p in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _interval(element: ElementTree.Element, tag: str) -> tuple[int, int | None]:
    interval = element.find(NS + tag)
    if interval is None:
        return 0, None
    lower = _t(interval, "lower")
    upper = _t(interval, "upper")
    unbounded = _t(interval, "upper_unbounded") == "true"
    return int(lower or 0), (None if unbounded or not upper else int(upper))


def _terms(archetype: ElementTree.Element) -> dict[str, str]:
    terms = {}
    for term in archetype.findall(NS + "term_definitions"):
        if term.get("code", "") in terms:
            raise TemplateError(f"term {term.get('code')} is defined twice")
        for item in term.findall(NS + "items"):
            if item.get("id") == "text":
                terms[term.get("code", "")] = (item.text or "").strip()
    return terms


def _name_constraint(element: ElementTree.Element) -> str | None:
    for attribute in element.findall(NS + "attributes"):
        if _t(attribute, "rm_attribute_name") != "name":
            continue
        for text in attribute.iter(NS + "list"):
            if text.text:
                return text.text.strip()
    return None


def _node(
    element: ElementTree.Element, attribute: str, multiple: bool, terms: dict[str, str]
) -> Node:
    rm_type = _t(element, "rm_type_name")
    kind = element.get(XSI_TYPE, "").split(":")[-1]
    node_id = _t(element, "node_id")
    archetype_id = None
    if kind == "C_ARCHETYPE_ROOT" or element.tag == NS + "definition":
        archetype_id = _t(element, "archetype_id/value")
        if (
            not ARCHETYPE_ID.match(archetype_id)
            or ARCHETYPE_ID.match(archetype_id).group(1) != rm_type
        ):  # type: ignore[union-attr]
            raise TemplateError(f"archetype id {archetype_id!r} does not fit {rm_type}")
        terms = _terms(element)
        if "at0000" not in terms:
            raise TemplateError(f"{archetype_id} has no term definition for at0000")
    lower, upper = _interval(element, "occurrences")
    if node_id and node_id not in terms and rm_type not in STRUCTURAL:
        raise TemplateError(f"node {node_id} of {rm_type} has no term definition")
    name = _name_constraint(element) or terms.get(node_id or "at0000", rm_type.lower())
    if attribute == "context":
        name = "context"
    node = Node(
        rm_type=rm_type,
        node_id=node_id,
        attribute=attribute,
        name=name,
        min=lower,
        max=upper,
        archetype_id=archetype_id,
        multiple_attribute=multiple,
    )
    for child_attribute in element.findall(NS + "attributes"):
        attr_name = _t(child_attribute, "rm_attribute_name")
        attr_multiple = child_attribute.get(XSI_TYPE, "").endswith("C_MULTIPLE_ATTRIBUTE")
        for child in child_attribute.findall(NS + "children"):
            child_kind = child.get(XSI_TYPE, "").split(":")[-1]
            child_rm = _t(child, "rm_type_name")
            if rm_type == "ELEMENT" and attr_name == "value":
                node.value_types.append(child_rm)
                for phrase in child.iter(NS + "children"):
                    if phrase.get(XSI_TYPE, "").endswith("C_CODE_PHRASE"):
                        node.terminology = _t(phrase, "terminology_id/value")
                        for code in phrase.findall(NS + "code_list"):
                            value = (code.text or "").strip()
                            if node.terminology == "local" and value not in terms:
                                raise TemplateError(
                                    f"local code {value} of {node_id} has no term definition"
                                )
                            node.codes[value] = terms.get(value, value)
                continue
            if attr_name in ("name", "category", "defining_code") or child_kind in (
                "ARCHETYPE_SLOT",
                "C_PRIMITIVE_OBJECT",
                "C_CODE_PHRASE",
            ):
                continue
            node.children.append(_node(child, attr_name, attr_multiple, terms))
    return node


def parse_opt(opt: str) -> WebTemplate:
    """Read an OPT the way EHRbase needs it; raises ``TemplateError`` when it cannot."""
    if "<!DOCTYPE" in opt[:4096] or "<!ENTITY" in opt:
        raise TemplateError("DOCTYPE is not allowed")
    try:
        root = ElementTree.fromstring(opt)  # noqa: S314 - DTDs refused above
    except ElementTree.ParseError as exc:
        raise TemplateError(f"XML parse error: {exc}") from None
    if root.tag != NS + "template":
        raise TemplateError(f"unexpected root element {root.tag}")
    template_id = _t(root, "template_id/value")
    concept = _t(root, "concept")
    definition = root.find(NS + "definition")
    if not template_id:
        raise TemplateError("template_id is missing")
    if not concept:
        raise TemplateError("concept is missing")
    if definition is None:
        raise TemplateError("definition is missing")
    if _t(definition, "rm_type_name") != "COMPOSITION":
        raise TemplateError("definition is not a COMPOSITION")
    tree = _node(definition, "", False, {})
    return WebTemplate(
        template_id=template_id,
        concept=concept,
        archetype_id=tree.archetype_id or "",
        language=_t(root, "language/code_string") or "en",
        opt=opt,
        tree=tree,
    )


# -- FLAT → canonical ----------------------------------------------------------------------------


@dataclass
class _Instance:
    node: Node
    values: dict[str, Any] = field(default_factory=dict)
    children: dict[tuple[str, int], _Instance] = field(default_factory=dict)


def _split(component: str) -> tuple[str, int | None]:
    if ":" in component:
        name, _, index = component.rpartition(":")
        if index.isdigit():
            return name, int(index)
    return component, None


COMPOSITION_ATTRS = {"language", "territory", "category", "composer", "_uid"}
CONTEXT_ATTRS = {"start_time", "end_time", "setting", "_health_care_facility", "location"}
ENTRY_ATTRS = {"language", "encoding", "subject"}


def _place(root: _Instance, key: str, value: Any, tree_id: str) -> bool:
    path, _, suffix = key.partition("|")
    parts = path.split("/")
    if parts[0] != tree_id:
        return False
    current = root
    rest = parts[1:]
    for position, component in enumerate(rest):
        last = position == len(rest) - 1
        name, index = _split(component)
        if last and name in ("_name", "_uid"):
            current.values[f"{name}|{suffix or 'value'}"] = value
            return True
        if last and (
            (current.node.rm_type == "COMPOSITION" and name in COMPOSITION_ATTRS)
            or (current.node.rm_type == "EVENT_CONTEXT" and name in CONTEXT_ATTRS)
            or (current.node.rm_type in ENTRY_TYPES and name in ENTRY_ATTRS)
        ):
            current.values[f"{name}|{suffix}" if suffix else name] = value
            return True
        if current.node.rm_type == "COMPOSITION" and name == "context" and index is None:
            context_node = next(
                (c for c in current.node.children if c.rm_type == "EVENT_CONTEXT"), None
            ) or Node("EVENT_CONTEXT", "", "context", "context", 1, 1)
            current = current.children.setdefault(("context", 0), _Instance(context_node))
            continue
        child = next((c for c in current.node.flat_children() if c.tree_id == name), None)
        if child is None or (index is not None and not child.repeats):
            return False
        if child.repeats and index is None:
            return False
        current = current.children.setdefault((name, index or 0), _Instance(child))
    if current.node.rm_type != "ELEMENT":
        return False
    current.values[suffix or ""] = value
    return True


def _dv(node: Node, values: dict[str, Any], where: str) -> dict[str, Any]:
    rm = node.value_types[0] if node.value_types else "DV_TEXT"
    if rm == "DV_CODED_TEXT" or (("code" in values) and "DV_CODED_TEXT" in node.value_types):
        code = values.get("code")
        text = values.get("value")
        if code is None and "" in values:
            bare = str(values[""])
            code = (
                bare
                if bare in node.codes
                else next((c for c, t in node.codes.items() if t == bare), None)
            )
        terminology = values.get("terminology") or node.terminology or "local"
        if node.codes and code not in node.codes:
            raise ValidationError(
                f"{where}: code {code!r} is not in the code list {sorted(node.codes)}"
            )
        if text is None:
            text = node.codes.get(code or "", code)
        return {
            "_type": "DV_CODED_TEXT",
            "value": text,
            "defining_code": {
                "_type": "CODE_PHRASE",
                "terminology_id": {"_type": "TERMINOLOGY_ID", "value": terminology},
                "code_string": code,
            },
        }
    if rm == "DV_QUANTITY":
        return {
            "_type": "DV_QUANTITY",
            "magnitude": float(values.get("magnitude", 0)),
            "units": values.get("unit", ""),
        }
    if rm == "DV_COUNT":
        return {"_type": "DV_COUNT", "magnitude": int(values.get("", values.get("magnitude", 0)))}
    if rm == "DV_BOOLEAN":
        return {"_type": "DV_BOOLEAN", "value": bool(values.get("", values.get("value")))}
    text = values.get("", values.get("value"))
    if not isinstance(text, str):
        raise ValidationError(f"{where}: a text value is required")
    return {
        "_type": rm if rm in ("DV_TEXT", "DV_DATE_TIME", "DV_DATE") else "DV_TEXT",
        "value": text,
    }


def _code_phrase(terminology: str, code: str) -> dict[str, Any]:
    return {
        "_type": "CODE_PHRASE",
        "terminology_id": {"_type": "TERMINOLOGY_ID", "value": terminology},
        "code_string": code,
    }


def _locatable(node: Node, instance: _Instance) -> dict[str, Any]:
    name = instance.values.get("_name|value", node.name)
    obj: dict[str, Any] = {
        "_type": node.rm_type,
        "name": {"_type": "DV_TEXT", "value": name},
        "archetype_node_id": node.predicate,
    }
    return obj


def _build(instance: _Instance, path: str, ctx: dict[str, Any], template_id: str) -> dict[str, Any]:
    node = instance.node
    obj = _locatable(node, instance)
    if node.archetype_id:
        obj["archetype_details"] = {
            "archetype_id": {"value": node.archetype_id},
            "template_id": {"value": template_id},
            "rm_version": "1.0.4",
        }
    if node.rm_type in ENTRY_TYPES:
        obj["language"] = _code_phrase(
            instance.values.get("language|terminology", "ISO_639-1"),
            instance.values.get("language|code", ctx["language"]),
        )
        obj["encoding"] = _code_phrase(
            instance.values.get("encoding|terminology", "IANA_character-sets"),
            instance.values.get("encoding|code", "UTF-8"),
        )
        obj["subject"] = {"_type": "PARTY_SELF"}
    if node.rm_type == "ELEMENT":
        obj["value"] = _dv(node, instance.values, path)
        return obj
    _fill_children(obj, node, instance, path, ctx, template_id)
    return obj


def _fill_children(
    obj: dict[str, Any],
    node: Node,
    instance: _Instance,
    path: str,
    ctx: dict[str, Any],
    template_id: str,
) -> None:
    by_attribute: dict[str, list[Node]] = {}
    for child in node.children:
        if child.rm_type == "EVENT_CONTEXT":
            continue
        by_attribute.setdefault(child.attribute, []).append(child)
    for attribute, children in by_attribute.items():
        built: list[dict[str, Any]] = []
        for child in children:
            child_path = f"{path}/{attribute}[{child.predicate}]"
            if child.rm_type in STRUCTURAL:
                inside = child.flat_children()
                sub = _Instance(
                    child,
                    children={
                        k: v
                        for k, v in instance.children.items()
                        if any(v.node is n for n in inside)
                    },
                )
                if sub.children:
                    structural = _locatable(child, sub)
                    _fill_children(structural, child, sub, child_path, ctx, template_id)
                    built.append(structural)
                elif child.min > 0:
                    raise ValidationError(f"{child_path}: required {child.rm_type} is missing")
                continue
            matches = [
                v
                for k, v in sorted(instance.children.items(), key=lambda kv: kv[0][1])
                if v.node is child
            ]
            if len(matches) < child.min:
                raise ValidationError(
                    f"{child_path}: {child.rm_type} {child.name!r} occurs {len(matches)} times, "
                    f"at least {child.min} required"
                )
            built.extend(_build(match, child_path, ctx, template_id) for match in matches)
        if not built:
            continue
        multiple = any(c.multiple_attribute for c in children)
        obj[attribute] = built if multiple else built[0]


def flat_to_composition(template: WebTemplate, flat: dict[str, Any]) -> dict[str, Any]:
    """Canonical COMPOSITION JSON from FLAT; raises ``FlatError`` or ``ValidationError``."""
    if not isinstance(flat, dict):
        raise FlatError("FLAT composition must be a JSON object")
    ctx: dict[str, Any] = {"language": template.language, "territory": "GB"}
    root = _Instance(template.tree)
    unconsumed = []
    for key, value in flat.items():
        if key.startswith("ctx/"):
            name = key[4:]
            if name in CTX_KEYS or name.startswith(("participation", "link")):
                ctx[name] = value
            else:
                unconsumed.append(key)
            continue
        if not _place(root, key, value, template.tree_id):
            unconsumed.append(key)
    if unconsumed:
        raise FlatError(f"Could not consume Parts [{', '.join(unconsumed)}]")
    values = root.values
    context_values = root.children.get(("context", 0), _Instance(template.tree)).values
    composer_name = values.get("composer|name", ctx.get("composer_name"))
    if not composer_name:
        raise ValidationError(
            "/composer: Attribute composer of class COMPOSITION does not match existence 1..1"
        )
    start_time = context_values.get("start_time", ctx.get("time"))
    if not start_time:
        start_time = datetime.now(UTC).isoformat()
    setting_code = str(context_values.get("setting|code", "238"))
    composition: dict[str, Any] = {
        "_type": "COMPOSITION",
        "name": {"_type": "DV_TEXT", "value": values.get("_name|value", template.tree.name)},
        "archetype_details": {
            "archetype_id": {"value": template.archetype_id},
            "template_id": {"value": template.template_id},
            "rm_version": "1.0.4",
        },
        "archetype_node_id": template.archetype_id,
        "language": _code_phrase(
            values.get("language|terminology", "ISO_639-1"),
            values.get("language|code", ctx["language"]),
        ),
        "territory": _code_phrase(
            values.get("territory|terminology", "ISO_3166-1"),
            values.get("territory|code", ctx["territory"]),
        ),
        "category": {
            "_type": "DV_CODED_TEXT",
            "value": "event",
            "defining_code": _code_phrase("openehr", "433"),
        },
        "composer": {"_type": "PARTY_IDENTIFIED", "name": composer_name},
        "context": {
            "_type": "EVENT_CONTEXT",
            "start_time": {"_type": "DV_DATE_TIME", "value": start_time},
            "setting": {
                "_type": "DV_CODED_TEXT",
                "value": context_values.get(
                    "setting|value", SETTINGS.get(setting_code, "other care")
                ),
                "defining_code": _code_phrase("openehr", setting_code),
            },
        },
    }
    facility = context_values.get(
        "_health_care_facility|name", ctx.get("health_care_facility|name")
    )
    if facility:
        composition["context"]["health_care_facility"] = {
            "_type": "PARTY_IDENTIFIED",
            "name": facility,
        }
    end_time = context_values.get("end_time", ctx.get("end_time"))
    if end_time:
        composition["context"]["end_time"] = {"_type": "DV_DATE_TIME", "value": end_time}
    context_node = next((c for c in template.tree.children if c.rm_type == "EVENT_CONTEXT"), None)
    context_instance = root.children.get(("context", 0))
    if context_node is not None and context_instance is not None:
        _fill_children(
            composition["context"],
            context_node,
            context_instance,
            "/context",
            ctx,
            template.template_id,
        )
    _fill_children(composition, template.tree, root, "", ctx, template.template_id)
    return composition


def validate_composition(template: WebTemplate, composition: dict[str, Any]) -> None:
    """Checks on a canonical composition posted as JSON (the root archetype and name)."""
    if composition.get("archetype_node_id") != template.archetype_id:
        raise ValidationError(
            f"/: archetype_node_id {composition.get('archetype_node_id')!r} does not match "
            f"the template's root {template.archetype_id}"
        )
    for key in ("language", "territory", "category", "composer"):
        if key not in composition:
            raise ValidationError(
                f"/{key}: Attribute {key} of class COMPOSITION does not match existence 1..1"
            )


# -- canonical → FLAT ----------------------------------------------------------------------------


def _flatten_node(node: Node, obj: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    if node.rm_type in ENTRY_TYPES:
        for attr in ("language", "encoding"):
            phrase = obj.get(attr) or {}
            if phrase:
                out[f"{path}/{attr}|code"] = phrase.get("code_string")
                out[f"{path}/{attr}|terminology"] = (phrase.get("terminology_id") or {}).get(
                    "value"
                )
    if node.rm_type == "ELEMENT":
        value = obj.get("value") or {}
        kind = value.get("_type")
        if kind == "DV_CODED_TEXT":
            out[f"{path}|code"] = (value.get("defining_code") or {}).get("code_string")
            out[f"{path}|value"] = value.get("value")
            out[f"{path}|terminology"] = (
                (value.get("defining_code") or {}).get("terminology_id") or {}
            ).get("value")
        elif kind == "DV_QUANTITY":
            out[f"{path}|magnitude"] = value.get("magnitude")
            out[f"{path}|unit"] = value.get("units")
        elif kind in ("DV_COUNT",):
            out[path] = value.get("magnitude")
        else:
            out[path] = value.get("value")
        return
    _flatten_children(node, obj, path, out)


def _flatten_children(node: Node, obj: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    for child in node.children:
        if child.rm_type == "EVENT_CONTEXT":
            continue
        raw = obj.get(child.attribute)
        items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
        matches = [
            i
            for i in items
            if isinstance(i, dict) and i.get("archetype_node_id") == child.predicate
        ]
        for index, item in enumerate(matches):
            if child.rm_type in STRUCTURAL:
                _flatten_children(child, item, path, out)
                continue
            child_path = f"{path}/{child.tree_id}" + (f":{index}" if child.repeats else "")
            _flatten_node(child, item, child_path, out)


def composition_to_flat(template: WebTemplate, composition: dict[str, Any]) -> dict[str, Any]:
    """FLAT as EHRbase outputs it: composition attributes spelled out, no ``ctx/``."""
    root = template.tree_id
    out: dict[str, Any] = {}
    uid = (composition.get("uid") or {}).get("value")
    if uid:
        out[f"{root}/_uid"] = uid
    for attr in ("language", "territory"):
        phrase = composition.get(attr) or {}
        out[f"{root}/{attr}|code"] = phrase.get("code_string")
        out[f"{root}/{attr}|terminology"] = (phrase.get("terminology_id") or {}).get("value")
    category = composition.get("category") or {}
    out[f"{root}/category|code"] = (category.get("defining_code") or {}).get("code_string")
    out[f"{root}/category|value"] = category.get("value")
    out[f"{root}/category|terminology"] = "openehr"
    context = composition.get("context") or {}
    out[f"{root}/context/start_time"] = (context.get("start_time") or {}).get("value")
    setting = context.get("setting") or {}
    out[f"{root}/context/setting|code"] = (setting.get("defining_code") or {}).get("code_string")
    out[f"{root}/context/setting|value"] = setting.get("value")
    out[f"{root}/context/setting|terminology"] = "openehr"
    if context.get("end_time"):
        out[f"{root}/context/end_time"] = context["end_time"].get("value")
    facility = context.get("health_care_facility") or {}
    if facility.get("name"):
        out[f"{root}/context/_health_care_facility|name"] = facility["name"]
    context_node = next((c for c in template.tree.children if c.rm_type == "EVENT_CONTEXT"), None)
    if context_node is not None:
        _flatten_children(context_node, context, f"{root}/context", out)
    _flatten_children(template.tree, composition, root, out)
    out[f"{root}/composer|name"] = (composition.get("composer") or {}).get("name")
    return {k: v for k, v in out.items() if v is not None}


# -- web template and example ----------------------------------------------------------------------


def _web_node(node: Node, aql: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": node.tree_id,
        "name": node.name,
        "localizedName": node.name,
        "rmType": node.rm_type,
        "nodeId": node.predicate,
        "min": node.min,
        "max": -1 if node.max is None else node.max,
        "aqlPath": aql or "/",
    }
    children = []
    for child in node.flat_children():
        children.append(_web_node(child, f"{aql}/{child.attribute}[{child.predicate}]"))
    if node.rm_type == "ELEMENT":
        data["inputs"] = [
            {
                "type": "CODED_TEXT",
                "list": [{"value": c, "label": t} for c, t in node.codes.items()],
            }
            if node.codes
            else {"type": "TEXT"}
        ]
    if children:
        data["children"] = children
    return data


def web_template(template: WebTemplate) -> dict[str, Any]:
    """A (reduced) web template JSON."""
    return {
        "templateId": template.template_id,
        "version": "2.3",
        "defaultLanguage": template.language,
        "languages": [template.language],
        "tree": _web_node(template.tree, ""),
    }


def _example_values(node: Node, path: str, out: dict[str, Any]) -> None:
    for child in node.flat_children():
        child_path = f"{path}/{child.tree_id}" + (":0" if child.repeats else "")
        if child.rm_type == "ELEMENT":
            if child.codes:
                out[f"{child_path}|code"] = next(iter(child.codes))
            elif child.value_types and child.value_types[0] == "DV_QUANTITY":
                out[f"{child_path}|magnitude"] = 1.0
                out[f"{child_path}|unit"] = "1"
            elif child.value_types and child.value_types[0] in ("DV_COUNT",):
                out[child_path] = 1
            elif child.value_types and child.value_types[0] == "DV_BOOLEAN":
                out[child_path] = True
            else:
                out[child_path] = "Lorem ipsum"
        elif child.rm_type != "EVENT_CONTEXT":
            _example_values(child, child_path, out)


def example_flat(template: WebTemplate) -> dict[str, Any]:
    """An example composition in FLAT output shape."""
    flat: dict[str, Any] = {
        "ctx/language": template.language,
        "ctx/territory": "GB",
        "ctx/composer_name": "Silvia Blake",
        "ctx/time": "2024-01-01T09:00:00Z",
    }
    _example_values(template.tree, template.tree_id, flat)
    return composition_to_flat(template, flat_to_composition(template, flat))


def example_composition(template: WebTemplate) -> dict[str, Any]:
    """An example composition as canonical JSON."""
    flat = {
        "ctx/language": template.language,
        "ctx/territory": "GB",
        "ctx/composer_name": "Silvia Blake",
        "ctx/time": "2024-01-01T09:00:00Z",
    }
    _example_values(template.tree, template.tree_id, flat)
    return flat_to_composition(template, flat)
