"""Security headers on every response: a strict CSP, no sniffing, no framing, no caching.

The Content-Security-Policy allows nothing inline (no ``unsafe-inline``/``unsafe-eval``): scripts,
styles and images come from the console itself only (``default-src 'self'``; the two-factor QR
code is an SVG served by the console, so no ``data:`` images are needed). ``Cache-Control:
no-store`` goes on every response except static files, so no signed-in page, sign-in or sign-out
page is kept by a browser or proxy. HSTS is sent when the console is served over HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    """Add the headers after every request."""

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config["SETTINGS"].HTTPS or request.is_secure:
            headers["Strict-Transport-Security"] = HSTS
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response
