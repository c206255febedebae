"""Letter bodies: Markdown rendered to HTML that is safe to put in a page.

CommonMark plus tables, with raw HTML switched off (it shows as text), images shown as their
description instead of being fetched, and the result cleaned by nh3 against a short list of
tags and attributes: no script, no event handlers, no style, no ``javascript:`` or ``data:``
links. Links open no remote content by themselves and carry ``rel="noopener noreferrer
nofollow"``.
"""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_CLASSES = {"span": {"letter-image"}}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_BODY_CHARS = 200_000


def _image_as_text(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    """Render ``![alt](src)`` as a note with the alt text: no remote image is ever loaded."""
    token = tokens[index]
    alt = "".join(child.content for child in (token.children or [])) or "image"
    return f'<span class="letter-image">[Image not shown: {escape(alt)}]</span>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    md.add_render_rule("image", _image_as_text)
    return md


_MARKDOWN = _parser()


def render_markdown(text: str) -> Markup:
    """Markdown → sanitised HTML, ready for a template."""
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + "\n\n…"
    html = _MARKDOWN.render(text)
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(cleaned)  # noqa: S704 - cleaned by nh3 above
