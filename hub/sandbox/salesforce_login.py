"""Salesforce look-alike, logins: OAuth2 JWT bearer, client credentials and password grants,
SOAP ``login`` and the domain trick.

The JWT bearer grant is checked as Salesforce checks it: an RS256 signature from the connected
app's certificate, ``iss`` = its consumer key, ``aud`` = the login host, ``sub`` = a known
username, ``exp`` in the future (a few minutes of clock skew allowed). Refusals are 400s with
``{"error": ..., "error_description": ...}`` as Salesforce writes them.

A mixin for ``SalesforceApp`` (salesforce_server.py), which owns sessions and routing.
"""

from __future__ import annotations

import base64
import secrets
import time
from html import unescape
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import jwt
from cryptography import x509

from hub.sandbox.httpkit import Request, Response
from hub.sandbox.salesforce_errors import sf_err as _sf_err
from hub.secrets import same_secret

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_SKEW_S = 180.0  # Salesforce allows the assertion's exp a few minutes of clock skew


def _public_key(pem: str) -> Any:
    """The connected app's certificate (what Salesforce stores) or a bare public key, as a key."""
    if "BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return pem


def _oauth_err(error: str, description: str) -> Response:
    return Response(400, {"error": error, "error_description": description})


class SalesforceLoginRoutes:
    """Handlers that need ``creds``, ``limits``, ``sessions``, ``logins``, ``base_url``."""

    creds: Any
    limits: Any
    sessions: dict[str, float]
    logins: int
    base_url: str
    _lock: Any

    def _new_session(self) -> str:
        token = "00DHb0000000001!" + secrets.token_urlsafe(24)
        with self._lock:
            self.sessions[token] = time.monotonic() + self.limits.session_ttl_s
        self.logins += 1
        return token

    # ---- login ---------------------------------------------------------------------------
    def _check_password(self, username: str, password: str) -> bool:
        c = self.creds
        # both candidates are always compared (no short-circuit), each in constant time
        with_token = same_secret(password, c.password + c.security_token)
        bare = same_secret(password, c.password)
        return same_secret(username, c.username) & (with_token | bare)

    def oauth_token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            return self._jwt_bearer(form.get("assertion", ""))
        if grant == "client_credentials":
            return self._client_credentials(req, form)
        if grant != "password":
            return _oauth_err("unsupported_grant_type", "grant type not supported")
        if not same_secret(form.get("client_id"), self.creds.consumer_key) or not same_secret(
            form.get("client_secret"), self.creds.consumer_secret
        ):
            return _oauth_err("invalid_client_id", "client identifier invalid")
        if not self._check_password(form.get("username", ""), form.get("password", "")):
            return _oauth_err("invalid_grant", "authentication failure")
        return self._token_answer()

    def _token_answer(self) -> Response:
        token = self._new_session()
        return Response(
            200,
            {
                "access_token": token,
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/00DHb0000000001/005Hb0000000001",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": "sandbox",
            },
        )

    def _jwt_bearer(self, assertion: str) -> Response:
        c = self.creds
        if not c.jwt_certificate:
            return _oauth_err("invalid_grant", "invalid assertion")  # no app holds a certificate
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                _public_key(c.jwt_certificate),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.PyJWTError:
            return _oauth_err("invalid_grant", "invalid assertion")
        if header.get("alg") != "RS256":
            return _oauth_err("invalid_grant", "invalid assertion")
        if not same_secret(str(claims.get("iss", "")), c.consumer_key):
            return _oauth_err("invalid_client_id", "client identifier invalid")
        if str(claims.get("aud", "")).rstrip("/") not in self._audiences():
            return _oauth_err("invalid_grant", "audience is invalid")
        try:
            exp = float(claims["exp"])
        except (TypeError, ValueError):
            return _oauth_err("invalid_grant", "invalid assertion")
        if exp + JWT_SKEW_S < time.time():
            return _oauth_err("invalid_grant", "expired access/refresh token")
        if not same_secret(str(claims.get("sub", "")), c.username):
            return _oauth_err("invalid_grant", "user hasn't approved this consumer")
        return self._token_answer()

    def _audiences(self) -> set[str]:
        """``https://login|test.salesforce.com`` and the sandbox's own login host (the domain trick)."""
        host = self.base_url.removeprefix("https://")
        return {
            "https://login.salesforce.com",
            "https://test.salesforce.com",
            f"https://{host}/sflogin?d=.salesforce.com",
        }

    def _client_credentials(self, req: Request, form: dict[str, str]) -> Response:
        key, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = req.header("authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return _oauth_err("invalid_client", "invalid client credentials")
        ok_key = same_secret(key, self.creds.consumer_key)
        if not (ok_key & same_secret(secret, self.creds.consumer_secret)):
            return _oauth_err("invalid_client", "invalid client credentials")
        if not self.creds.client_credentials_user:
            return _oauth_err("invalid_grant", "no client credentials user enabled")
        return self._token_answer()

    def soap_login(self, req: Request) -> Response:
        text = req.body.decode("utf-8", "replace")

        def tag(name: str) -> str:
            start = text.find(f"<n1:{name}>")
            end = text.find(f"</n1:{name}>")
            return text[start + len(name) + 5 : end] if start >= 0 and end > start else ""

        if not self._check_password(unescape(tag("username")), unescape(tag("password"))):
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
                '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner'
                '.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN'
                "</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, "
                "security token; or user locked out.</faultstring><detail><sf:LoginFault>"
                "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>"
                "Invalid username, password, security token; or user locked out."
                "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
                "</soapenv:Body></soapenv:Envelope>"
            )
            return Response(500, raw=body.encode(), content_type="text/xml; charset=utf-8")
        token = self._new_session()
        version = req.params.get("version", "59.0")
        server = f"{self.base_url}/services/Soap/u/{version}/00DHb0000000001"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            '"http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{escape(server)}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{escape(server)}</serverUrl>"
            f"<sessionId>{escape(token)}</sessionId>"
            "<userId>005Hb0000000001AAA</userId></result></loginResponse></soapenv:Body>"
            "</soapenv:Envelope>"
        )
        return Response(200, raw=body.encode(), content_type="text/xml; charset=utf-8")

    def domain_login(self, req: Request) -> Response:
        target = req.arg("d", "") or ""
        if "/services/Soap/u/" in target:
            req.params["version"] = target.rsplit("/", 1)[-1]
            return self.soap_login(req)
        if target.endswith("/services/oauth2/token"):
            return self.oauth_token(req)
        return _sf_err(404, "NOT_FOUND", f"unknown login target {target!r}")
