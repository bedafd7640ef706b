"""The connector logs in with the JWT bearer flow or client credentials against the sandbox.

Real simple-salesforce, real TLS, a freshly generated RSA key; password login still works but
logs a deprecation warning; secrets never appear in errors or logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.config import SalesforceSettings
from hub.errors import FatalConnectorError
from hub.sandbox.salesforce_server import SalesforceCredentials
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sb(key: rsa.RSAPrivateKey) -> Iterator[SandboxHandle]:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    creds = SalesforceCredentials(jwt_certificate=public.decode())
    with start_sandbox(World(n_contacts=50, seed=4), salesforce_credentials=creds) as handle:
        yield handle


def test_jwt_bearer_login_and_a_query(sb: SandboxHandle, key: rsa.RSAPrivateKey, tmp_path) -> None:
    keyfile = tmp_path / "app.key"
    keyfile.write_text(_pem(key))
    for secret in ({"privatekey": _pem(key)}, {"privatekey_file": str(keyfile)}):
        s = SalesforceSettings(
            username=sb.salesforce_username,
            consumer_key=sb.salesforce_consumer_key,
            domain=sb.salesforce_domain,
            ca_bundle=sb.ca_cert_path,
            **secret,
        )
        assert s.auth_mode() == "jwt" and "PRIVATE KEY" not in repr(s)
        c = SalesforceClient(s)
        rows = [r for page in c.query_pages("SELECT Id FROM User") for r in page]
        assert len(rows) == 7 and c.logins == 1


def test_a_wrong_key_is_fatal_with_salesforce_s_reason_and_no_secret(sb: SandboxHandle) -> None:
    other = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    s = SalesforceSettings(
        username=sb.salesforce_username,
        consumer_key=sb.salesforce_consumer_key,
        privatekey=other,
        domain=sb.salesforce_domain,
        ca_bundle=sb.ca_cert_path,
    )
    with pytest.raises(FatalConnectorError) as e:
        SalesforceClient(s).describe("Contact")
    assert "invalid_grant invalid assertion" in str(e.value) and "PRIVATE KEY" not in str(e.value)


def test_client_credentials_login(sb: SandboxHandle) -> None:
    s = SalesforceSettings(
        consumer_key=sb.salesforce_consumer_key,
        consumer_secret=sb.salesforce_consumer_secret,
        domain=sb.salesforce_domain,
        ca_bundle=sb.ca_cert_path,
    )
    assert s.auth_mode() == "client_credentials" and sb.salesforce_consumer_secret not in s.model_dump_json()
    c = SalesforceClient(s)
    assert c.describe("Contact")["name"] == "Contact" and c.logins == 1
    bad = SalesforceSettings(**{**s.model_dump(exclude={"consumer_secret"}), "consumer_secret": "wrong-secret"})
    with pytest.raises(FatalConnectorError, match="invalid_client"):
        SalesforceClient(bad).describe("Contact")


def test_client_credentials_need_a_my_domain() -> None:
    with pytest.raises(ValidationError, match="My Domain"):
        SalesforceSettings(consumer_key="ck", consumer_secret="cs", domain="login")


def test_password_login_still_works_with_a_deprecation_warning(sb: SandboxHandle, caplog) -> None:
    s = SalesforceSettings(
        **sb.salesforce_password_login,
    )
    with caplog.at_level(logging.WARNING, logger="connectors.salesforce.client"):
        assert SalesforceClient(s).describe("Lead")["name"] == "Lead"
    warned = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(warned) == 1 and "Summer '27" in warned[0] and sb.salesforce_password not in warned[0]


@pytest.mark.parametrize(
    "auth",
    [
        {"consumer_key": "k", "consumer_secret": "s", "domain": "127.0.0.1:9/sflogin?d="},
        {"session_id": "00D!x", "instance_url": "https://127.0.0.1:9"},
    ],
)
def test_a_ca_bundle_that_is_gone_is_a_fatal_error_naming_it(tmp_path, auth) -> None:
    """A demo's hub.yaml outlives its sandbox's CA file: one sentence, not requests' OSError."""
    gone = str(tmp_path / "ca.pem")
    with pytest.raises(FatalConnectorError) as e:
        SalesforceClient(SalesforceSettings(ca_bundle=gone, **auth)).describe("Contact")
    assert gone in str(e.value) and "ca_bundle" in str(e.value)
