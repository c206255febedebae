"""The role mapping's text form and reading the roles claim from the shapes providers send."""

from __future__ import annotations

import pytest

from console.sso.mapping import claim_values, mapped_roles, parse_role_mapping


def test_the_mapping_text_is_parsed_into_values_and_roles() -> None:
    text = " clinicians = Clinician ; S8000:G8000:R8000 = Clinician, Auditor ;"
    assert parse_role_mapping(text) == {
        "clinicians": ("Clinician",),
        "S8000:G8000:R8000": ("Clinician", "Auditor"),
    }
    assert parse_role_mapping("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clinicians Clinician", "is not of the form"),
        ("= Clinician", "is not of the form"),
        ("clinicians =", "is not of the form"),
        ("a = Clinician; a = Auditor", "appears twice"),
    ],
)
def test_a_malformed_mapping_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_role_mapping(text)


@pytest.mark.parametrize(
    ("claims", "path", "values"),
    [
        ({"groups": ["a", "b", 3]}, "groups", ["a", "b"]),
        ({"roles": "a"}, "roles", ["a"]),
        ({"realm_access": {"roles": ["clinician"]}}, "realm_access.roles", ["clinician"]),
        (
            {"nhsid_nrbac_roles": [{"role_code": "S8000:G8000:R8000"}, {"role_code": "R1"}]},
            "nhsid_nrbac_roles.role_code",
            ["S8000:G8000:R8000", "R1"],
        ),
        ({"https://example.org/roles": ["x"]}, "https://example.org/roles", ["x"]),
        ({"groups": {"not": "a list"}}, "groups", []),
        ({}, "realm_access.roles", []),
    ],
)
def test_claim_values_are_read_from_each_providers_shape(
    claims: dict[str, object], path: str, values: list[str]
) -> None:
    assert claim_values(claims, path) == values


def test_each_role_names_the_claim_values_that_granted_it() -> None:
    mapping = {"a": ("Clinician",), "b": ("Clinician", "Auditor")}
    assert mapped_roles(["a", "b", "c"], mapping) == {"Clinician": ["a", "b"], "Auditor": ["b"]}
