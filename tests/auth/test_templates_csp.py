"""No template may need ``unsafe-inline``: no inline scripts, styles or event handlers anywhere
under templates/ (this protects every page of the console, whoever adds it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console import ROOT

TEMPLATES = ROOT / "templates"
RULES: dict[str, re.Pattern[str]] = {
    "inline <script> (no src)": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S),
    "hx-on attribute": re.compile(r"\b(?:data-)?hx-on", re.I),
    "on*= event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def violations(text: str) -> list[str]:
    """The names of the rules ``text`` breaks."""
    return [name for name, pattern in RULES.items() if pattern.search(text)]


def all_templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def test_there_are_templates_to_check() -> None:
    assert len(all_templates()) >= 5


@pytest.mark.parametrize("path", all_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_has_no_inline_script_style_or_handlers(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("snippet", "rule"),
    [
        ("<script>alert(1)</script>", "inline <script> (no src)"),
        ('<script type="module">x()</script>', "inline <script> (no src)"),
        ("<style>p{}</style>", "<style> element"),
        ('<p class="x" style="color:red">', "style= attribute"),
        ("<div\n  style='display:none'>", "style= attribute"),
        ('<button hx-on:click="go()">', "hx-on attribute"),
        ('<button hx-on::after-request="x">', "hx-on attribute"),
        ('<form data-hx-on="submit: x()">', "hx-on attribute"),
        ('<img src="x" onerror="alert(1)">', "on*= event handler"),
        ('<body onload = "x()">', "on*= event handler"),
        ('<a href="javascript:void(0)">', "javascript: URL"),
    ],
)
def test_the_scanner_catches_each_kind_of_violation(snippet: str, rule: str) -> None:
    assert rule in violations(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/js/console.js" defer></script>',
        '<button data-copy="x" class="link-button">Copy</button>',
        "<p>Turn this on= only when needed; the style of the letter is kept.</p>",
        '<input name="online" value="yes">',
    ],
)
def test_the_scanner_allows_what_the_csp_allows(snippet: str) -> None:
    assert violations(snippet) == []
