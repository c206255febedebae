"""Letter bodies render from Markdown to HTML that cannot run code or fetch anything."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from console.letters.rendering import render_markdown


class Elements(HTMLParser):
    """The real elements and attributes of an HTML fragment (text is ignored)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


HOSTILE = {
    "script tag": "<script>alert('x')</script>",
    "script in a paragraph": "Results normal. <script src=https://evil.example/x.js></script>",
    "javascript link": "[open](javascript:alert(1))",
    "javascript link, mixed case": "[open](JaVaScRiPt:alert(1))",
    "javascript link, entity encoded": "[open](java&#115;cript:alert(1))",
    "data link": "[open](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "vbscript link": "[open](vbscript:msgbox(1))",
    "event handler on an image": '<img src="x" onerror="alert(1)">',
    "event handler on a link": '<a href="https://nhs.uk" onclick="alert(1)">NHS</a>',
    "inline style": '<p style="background:url(https://evil.example/)">x</p>',
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "svg": '<svg onload="alert(1)"><circle r="1"/></svg>',
    "form": '<form action="https://evil.example"><input name="p"></form>',
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_nothing_executable_survives(case: str) -> None:
    elements = Elements(str(render_markdown(HOSTILE[case]))).found
    for tag, attributes in elements:
        assert tag in {"p", "a", "span"}, (case, tag)
        assert not any(name.startswith("on") or name == "style" for name in attributes), (
            case,
            attributes,
        )
        href = (attributes.get("href") or "").strip().lower()
        assert not href or href.startswith(("https://", "http://", "mailto:")), (case, href)


def test_raw_html_is_shown_as_text_not_dropped() -> None:
    html = str(render_markdown("Dose <5 mg> and <script>alert(1)</script>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;5 mg&gt;" in html


def test_remote_images_are_never_loaded() -> None:
    html = str(render_markdown("![Chest X-ray](https://pacs.example/img/1.png)"))
    assert "<img" not in html and "pacs.example" not in html
    assert "Image not shown: Chest X-ray" in html


def test_clinical_markdown_keeps_its_structure() -> None:
    html = str(
        render_markdown(
            "## Plan\n\n1. Continue **apixaban**\n2. Review in *six* months\n\n"
            "| Medicine | Dose |\n| --- | --: |\n| Bisoprolol | 2.5 mg |\n\n"
            "> Question for the team\n\n[NICE guidance](https://www.nice.org.uk)"
        )
    )
    assert "<h2>Plan</h2>" in html
    assert "<ol>" in html and "<strong>apixaban</strong>" in html and "<em>six</em>" in html
    assert "<table>" in html and "<td>Bisoprolol</td>" in html
    assert "<blockquote>" in html
    assert (
        '<a href="https://www.nice.org.uk" rel="noopener noreferrer nofollow">NICE guidance</a>'
        in html
    )
