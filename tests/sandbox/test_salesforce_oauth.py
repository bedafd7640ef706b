"""OAuth 2.0 logins against the Salesforce look-alike: JWT bearer and client credentials.

The real simple-salesforce signs and sends; the sandbox refuses what Salesforce refuses (bad
signature, wrong issuer, audience or user, an expired assertion, wrong client secret) with
Salesforce's ``{"error", "error_description"}`` 400s.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from hub.sandbox.salesforce_server import SalesforceCredentials
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _certificate(key: rsa.RSAPrivateKey) -> str:
    """A self-signed certificate, as uploaded to a connected app."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub connected app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return _key()


@pytest.fixture
def sb(app_key: rsa.RSAPrivateKey) -> Iterator[SandboxHandle]:
    creds = SalesforceCredentials(jwt_certificate=_certificate(app_key))
    with start_sandbox(World(n_contacts=50, seed=3), salesforce_credentials=creds) as handle:
        yield handle


def _token(sb: SandboxHandle, **form: str):  # noqa: ANN202
    return sb.salesforce_session().post(f"{sb.salesforce_url}/services/oauth2/token", data=form)


def _assertion(sb: SandboxHandle, key: rsa.RSAPrivateKey, **claims) -> str:  # noqa: ANN003
    base = {
        "iss": sb.salesforce_consumer_key,
        "sub": sb.salesforce_username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    return jwt.encode({**base, **claims}, _pem(key), algorithm="RS256")


def test_jwt_bearer_through_simple_salesforce(sb: SandboxHandle, app_key: rsa.RSAPrivateKey) -> None:
    sf = Salesforce(
        username=sb.salesforce_username,
        consumer_key=sb.salesforce_consumer_key,
        privatekey=_pem(app_key),
        domain=sb.salesforce_domain,
        session=sb.salesforce_session(),
    )
    assert sf.auth_type == "jwt-bearer"
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 7
    with pytest.raises(SalesforceAuthenticationFailed) as e:  # a key the app does not hold
        Salesforce(
            username=sb.salesforce_username,
            consumer_key=sb.salesforce_consumer_key,
            privatekey=_pem(_key()),
            domain=sb.salesforce_domain,
            session=sb.salesforce_session(),
        )
    assert (e.value.code, e.value.auth_message) == ("invalid_grant", "invalid assertion")


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://evil.example.com"}, "invalid_grant", "audience is invalid"),
        ({"exp": int(time.time()) - 3600}, "invalid_grant", "expired access/refresh token"),
        ({"sub": "nobody@example.com"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"iss": "someone-elses-app"}, "invalid_client_id", "client identifier invalid"),
    ],
)
def test_jwt_claims_are_checked(
    sb: SandboxHandle, app_key: rsa.RSAPrivateKey, claims: dict, error: str, description: str
) -> None:
    good = _token(sb, grant_type=JWT_GRANT, assertion=_assertion(sb, app_key))
    assert good.status_code == 200 and good.json()["access_token"]
    bad = _token(sb, grant_type=JWT_GRANT, assertion=_assertion(sb, app_key, **claims))
    assert bad.status_code == 400
    assert bad.json() == {"error": error, "error_description": description}


def test_jwt_needs_rs256_and_all_claims(sb: SandboxHandle, app_key: rsa.RSAPrivateKey) -> None:
    hs = jwt.encode({"iss": sb.salesforce_consumer_key, "sub": sb.salesforce_username}, "k" * 32, algorithm="HS256")
    no_exp = jwt.encode(
        {"iss": sb.salesforce_consumer_key, "sub": sb.salesforce_username, "aud": "https://login.salesforce.com"},
        _pem(app_key),
        algorithm="RS256",
    )
    for assertion in (hs, no_exp, "not.a.jwt"):
        r = _token(sb, grant_type=JWT_GRANT, assertion=assertion)
        assert r.status_code == 400 and r.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    r = _token(sb, grant_type="implicit")
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_client_credentials_through_simple_salesforce(sb: SandboxHandle) -> None:
    sf = Salesforce(
        consumer_key=sb.salesforce_consumer_key,
        consumer_secret=sb.salesforce_consumer_secret,
        domain=sb.salesforce_domain,
        session=sb.salesforce_session(),
    )
    assert sf.auth_type == "client-credentials"
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 7
    with pytest.raises(SalesforceAuthenticationFailed) as e:
        Salesforce(
            consumer_key=sb.salesforce_consumer_key,
            consumer_secret="wrong-secret",
            domain=sb.salesforce_domain,
            session=sb.salesforce_session(),
        )
    assert (e.value.code, e.value.auth_message) == ("invalid_client", "invalid client credentials")


def test_client_credentials_off_without_a_run_as_user() -> None:
    creds = SalesforceCredentials(client_credentials_user=None)
    with start_sandbox(World(n_contacts=20, seed=1), salesforce_credentials=creds) as sb:
        r = _token(
            sb,
            grant_type="client_credentials",
            client_id=sb.salesforce_consumer_key,
            client_secret=sb.salesforce_consumer_secret,
        )
        assert r.status_code == 400
        assert r.json() == {"error": "invalid_grant", "error_description": "no client credentials user enabled"}


def test_jwt_refused_when_the_app_has_no_certificate() -> None:
    with start_sandbox(World(n_contacts=20, seed=1)) as sb:
        r = _token(sb, grant_type=JWT_GRANT, assertion=_assertion(sb, _key()))
        assert r.status_code == 400 and r.json()["error_description"] == "invalid assertion"
