"""The console's OPT checks, the shipped letter template, and the emulator's own refusals."""

from __future__ import annotations

import re

import pytest
import requests

from console.openehr import letter_template as lt
from console.openehr.errors import TemplateInvalid
from console.openehr.opt import check_opt, read_opt
from tests.support.openehr import Target

OPT = lt.letter_opt().decode("utf-8")


def without(pattern: str, text: str = OPT, count: int = 1) -> str:
    changed, n = re.subn(pattern, "", text, count=count, flags=re.S)
    assert n, f"pattern not found: {pattern}"
    return changed


def replaced(old: str, new: str, text: str = OPT, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


BROKEN = {
    "not well-formed": (OPT[:-40], "not well-formed XML"),
    "not an OPT": (
        "<archetype xmlns='http://schemas.openehr.org/v1'/>",
        "root element is <archetype>",
    ),
    "no template_id": (without(r"\n  <template_id>.*?</template_id>"), "no template_id"),
    "no concept": (without(r"<concept>.*?</concept>"), "no concept"),
    "no definition": (without(r"<definition>.*</definition>"), "no definition"),
    "rooted at an OBSERVATION": (
        replaced(
            "<rm_type_name>COMPOSITION</rm_type_name>", "<rm_type_name>OBSERVATION</rm_type_name>"
        ),
        "rooted at OBSERVATION",
    ),
    "root archetype not a COMPOSITION": (
        replaced(lt.COMPOSITION_ARCHETYPE + "<", "openEHR-EHR-OBSERVATION.quill_letter.v1<"),
        "not a COMPOSITION archetype",
    ),
    "entry archetype of the wrong type": (
        replaced(lt.CONTENT_ARCHETYPE, "openEHR-EHR-OBSERVATION.quill_letter_content.v1"),
        "constrains EVALUATION",
    ),
    "bad archetype id": (
        replaced(lt.CONTENT_ARCHETYPE, "quill letter content"),
        "not a valid openEHR archetype id",
    ),
    "node id without a term": (
        without(r'<term_definitions code="at0003">.*?</term_definitions>'),
        "uses at0003",
    ),
    "local code without a term": (
        without(r'<term_definitions code="at0007">.*?</term_definitions>'),
        "uses at0007",
    ),
    "term defined twice": (
        replaced('<term_definitions code="at0004">', '<term_definitions code="at0002">'),
        "defines the term at0002 twice",
    ),
    "node id not an at-code": (
        replaced("<node_id>at0002</node_id>", "<node_id>title</node_id>"),
        "not an at-code",
    ),
    "lower above upper": (
        replaced(
            "<lower>1</lower>\n                  <upper>1</upper>",
            "<lower>3</lower>\n                  <upper>1</upper>",
        ),
        "lower bound (3) above the upper (1)",
    ),
    "a DTD": ('<!DOCTYPE template [<!ENTITY x "y">]>' + OPT.split("\n", 1)[1], "DTD"),
    "empty": ("", "empty"),
}


def test_the_shipped_letter_template_passes_every_check() -> None:
    summary = check_opt(lt.letter_opt())
    assert summary.template_id == lt.TEMPLATE_ID
    assert summary.concept
    assert summary.root_archetype_id == lt.COMPOSITION_ARCHETYPE
    assert summary.language == "en"
    assert summary.archetype_ids == (lt.COMPOSITION_ARCHETYPE, lt.CONTENT_ARCHETYPE)


def test_the_template_is_shipped_as_package_data() -> None:
    assert lt.TEMPLATE_FILE in lt.shipped_templates()


def test_the_letter_template_carries_what_a_letter_needs() -> None:
    for term in ("Title", "Body", "Status", "Draft", "Final", "Amended", "Recipient"):
        assert f'<items id="text">{term}</items>' in OPT
    assert "<code_list>433</code_list>" in OPT  # category: event


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_templates_are_refused_with_a_reason(case: str) -> None:
    text, reason = BROKEN[case]
    with pytest.raises(TemplateInvalid) as caught:
        check_opt(text)
    assert any(reason in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = without(
        r"<concept>.*?</concept>", replaced("<node_id>at0002</node_id>", "<node_id>x</node_id>")
    )
    _, problems = read_opt(text)
    assert len(problems) >= 2


@pytest.mark.parametrize(
    "case",
    [
        "not well-formed",
        "not an OPT",
        "no template_id",
        "no concept",
        "no definition",
        "rooted at an OBSERVATION",
        "root archetype not a COMPOSITION",
        "entry archetype of the wrong type",
        "node id without a term",
        "node id not an at-code",
        "local code without a term",
        "term defined twice",
    ],
)
def test_the_emulator_refuses_the_same_templates(ehrbase: Target, case: str) -> None:
    text, _ = BROKEN[case]
    response = requests.post(
        ehrbase.url + "/rest/openehr/v1/definition/template/adl1.4",
        data=text.encode(),
        headers={"Content-Type": "application/xml"},
        auth=(ehrbase.admin_user or "", ehrbase.admin_password or ""),
        timeout=5,
    )
    assert response.status_code == 400
    assert "<message>Invalid template:" in response.text
