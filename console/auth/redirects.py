"""Safe post-sign-in redirects: only ever to a path on this console."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next_path(target: str | None, default: str) -> str:
    """``target`` when it is a local path (no scheme, host or protocol-relative //), else ``default``."""
    if not target:
        return default
    target = target.strip()
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
