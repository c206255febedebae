"""A small OpenID provider for the token-validation tests: discovery, JWKS and a token
endpoint that answers with whatever ID token the test asks for, signed with keys made here.

It checks the PKCE verifier against the challenge of the authorization request, like a real
provider, so a console that lost or mangled it fails the exchange.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "quill-console"
CLIENT_SECRET = "fake-idp-secret"


def new_key(kid: str) -> RSAKey:
    """A fresh RSA signing key."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def unsigned(claims: dict[str, Any]) -> str:
    """A token with ``alg: none`` (what an attacker would send)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@dataclass
class FakeIdp:
    """The provider's state; tests change ``claims``, ``keys`` or ``id_token`` between steps."""

    issuer: str
    keys: list[RSAKey] = field(default_factory=lambda: [new_key("key-1")])
    challenges: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    make_token: Callable[[dict[str, Any]], str] | None = None
    token_requests: int = 0
    jwks_requests: int = 0

    def reset(self) -> None:
        self.keys = [new_key("key-1")]
        self.challenges.clear()
        self.claims = {}
        self.make_token = None
        self.token_requests = self.jwks_requests = 0

    def base_claims(self, nonce: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": "subject-1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "sid": "idp-session-1",
            "email": "alice@example.org",
            "email_verified": True,
            "preferred_username": "alice.sso",
            "name": "Alice Sso",
            "groups": ["clinicians"],
        }

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """``claims`` signed (RS256) with ``key`` or the newest key."""
        key = key or self.keys[-1]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def authorize(self, url: str) -> tuple[str, str]:
        """Read the console's authorization request; returns (state, nonce)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        code = f"code-{len(self.challenges) + 1}"
        self.challenges[code] = query["code_challenge"]
        return query["state"], query["nonce"]

    def last_code(self) -> str:
        return f"code-{len(self.challenges)}"

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = request.form
        challenge = self.challenges.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        if challenge is None or digest.decode() != challenge:
            return Response(
                json.dumps({"error": "invalid_grant"}), 400, mimetype="application/json"
            )
        nonce = self.pending_nonce
        claims = {**self.base_claims(nonce), **self.claims}
        claims = {k: v for k, v in claims.items() if v is not None}
        id_token = self.make_token(claims) if self.make_token else self.sign(claims)
        body = {
            "access_token": "at",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }
        return Response(json.dumps(body), mimetype="application/json")

    pending_nonce: str = ""

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        if path == "/.well-known/openid-configuration":
            body: Any = {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "end_session_endpoint": self.issuer + "/logout",
                "id_token_signing_alg_values_supported": ["RS256", "none"],
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
            }
            response = Response(json.dumps(body), mimetype="application/json")
        elif path == "/jwks":
            self.jwks_requests += 1
            keys = [key.as_dict(private=False) for key in self.keys]
            response = Response(json.dumps({"keys": keys}), mimetype="application/json")
        elif path == "/token" and request.method == "POST":
            response = self._token(request)
        else:
            response = Response("not found", 404)
        return response(environ, start_response)


@contextmanager
def serve(port: int) -> Iterator[FakeIdp]:
    """Run a fake provider on ``127.0.0.1:port`` until the block ends."""
    idp = FakeIdp(issuer=f"http://127.0.0.1:{port}")
    server = make_server("127.0.0.1", port, idp.wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        thread.join()
