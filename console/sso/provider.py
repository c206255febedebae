"""The identity provider as an Authlib Flask OAuth client: discovery, PKCE, state, nonce,
ID token validation and JWKS (refetched when a token names a key not yet seen).

One client per app (``current_app.extensions``), built only when ``OIDC_ISSUER``,
``OIDC_CLIENT_ID`` and ``OIDC_CLIENT_SECRET`` are set. The discovery document is cached once
fetched; a failed fetch is retried at the next sign-in.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import Flask, current_app

from console.admin.connections import ProbeResult

EXTENSION = "quill_sso_client"
SCOPES = "openid email profile"
TIMEOUT = (3.05, 10.0)
FORBIDDEN_ALGORITHMS = frozenset({"none"})


class ProviderUnavailable(Exception):
    """The identity provider could not be reached, or did not answer as one."""


class OidcApp(FlaskOAuth2App):
    """Authlib's client, refusing a discovery document for another issuer and never
    accepting unsigned (``alg: none``) tokens whatever the document lists."""

    OAUTH_APP_CONFIG = None

    def load_server_metadata(self) -> dict[str, Any]:
        fresh = "_loaded_at" not in self.server_metadata
        metadata = super().load_server_metadata()
        if fresh:
            expected = self.server_metadata.get("expected_issuer")
            if metadata.get("issuer") != expected:
                self.server_metadata.pop("_loaded_at", None)
                raise ProviderUnavailable(
                    f"The discovery document names issuer {metadata.get('issuer')!r}, "
                    f"not {expected!r}."
                )
            algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
            metadata["id_token_signing_alg_values_supported"] = [
                alg for alg in algorithms if str(alg).lower() not in FORBIDDEN_ALGORITHMS
            ]
        return metadata


def init_app(app: Flask) -> None:
    """Register the client when single sign-on is configured."""
    settings = app.config["SETTINGS"]
    if not settings.sso_enabled:
        return
    oauth = OAuth(app)
    client = oauth.register(
        "idp",
        client_cls=OidcApp,
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET.reveal(),
        server_metadata_url=settings.OIDC_ISSUER + "/.well-known/openid-configuration",
        expected_issuer=settings.OIDC_ISSUER,
        client_kwargs={
            "scope": SCOPES,
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT,
        },
    )
    app.extensions[EXTENSION] = client


def client() -> OidcApp | None:
    """This app's client, or None when single sign-on is not configured."""
    return current_app.extensions.get(EXTENSION)


def metadata(idp: OidcApp) -> dict[str, Any]:
    """The discovery document; raises ``ProviderUnavailable`` when it cannot be had."""
    try:
        return idp.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(type(exc).__name__) from exc


def probe() -> ProbeResult:
    """Fetch the discovery document and the key set now (no cache) and report."""
    settings = current_app.config["SETTINGS"]
    service = "Identity provider"
    if not settings.sso_enabled:
        return ProbeResult(service, None, False, "OIDC_ISSUER is not set.")
    url = settings.OIDC_ISSUER + "/.well-known/openid-configuration"
    started = time.perf_counter()
    try:
        with requests.Session() as http:
            answer = http.get(url, timeout=TIMEOUT)
            answer.raise_for_status()
            document = answer.json()
            if document.get("issuer") != settings.OIDC_ISSUER:
                raise ValueError(f"the document names issuer {document.get('issuer')!r}")
            keys = http.get(document["jwks_uri"], timeout=TIMEOUT)
            keys.raise_for_status()
            count = len(keys.json().get("keys", []))
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        return ProbeResult(
            service, url, False, f"The server answered HTTP {status}.", status=status
        )
    except requests.RequestException:
        return ProbeResult(service, url, False, "The server could not be reached.")
    except (ValueError, KeyError, AttributeError) as exc:
        return ProbeResult(
            service,
            url,
            False,
            "The server answered, but not with an OpenID Connect discovery document.",
            diagnostics=str(exc)[:500],
        )
    elapsed = (time.perf_counter() - started) * 1000
    return ProbeResult(
        service,
        url,
        True,
        "Connected.",
        latency_ms=elapsed,
        status=200,
        version=f"{count} signing {'key' if count == 1 else 'keys'}",
    )
