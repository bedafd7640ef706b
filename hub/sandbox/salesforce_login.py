"""Salesforce look-alike, logins: OAuth2 password grant, SOAP ``login`` and the domain trick.

A mixin for ``SalesforceApp`` (salesforce_server.py), which owns sessions and routing.
"""

from __future__ import annotations

import secrets
import time
from html import unescape
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from hub.sandbox.httpkit import Request, Response
from hub.sandbox.salesforce_errors import sf_err as _sf_err
from hub.secrets import same_secret


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
        if (
            form.get("grant_type") != "password"
            or not same_secret(form.get("client_id"), self.creds.consumer_key)
            or not same_secret(form.get("client_secret"), self.creds.consumer_secret)
        ):
            return Response(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if not self._check_password(form.get("username", ""), form.get("password", "")):
            return Response(400, {"error": "invalid_grant", "error_description": "authentication failure"})
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
