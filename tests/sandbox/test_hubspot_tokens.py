"""Tokens refused as HubSpot refuses them. OAuth access tokens expire ``expires_in`` (1800 s)
after they are issued, then every call with one is a 401 EXPIRED_AUTHENTICATION, the body as
seen live (quoted in a public C# client: "The OAuth token used to make this call expired 75
second(s) ago.", ``context["expire time"]``). A token without a call's scope gets a 403."""

from __future__ import annotations

import json
import re

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.owners.exceptions import ApiException

FORM = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}


def _token(sandbox) -> dict:  # noqa: ANN001
    form = {**FORM, "grant_type": "refresh_token", "refresh_token": "sandbox-refresh-0"}
    return requests.post(f"{sandbox.hubspot_url}/oauth/2026-03/token", data=form, timeout=10).json()


def _active(sandbox, token: str) -> bool:  # noqa: ANN001
    url = f"{sandbox.hubspot_url}/oauth/2026-03/token/introspect"
    return requests.post(url, data={**FORM, "token": token}, timeout=10).json()["active"]


def test_a_token_works_for_its_lifetime_and_is_refused_as_expired_after(sandbox) -> None:
    issued = _token(sandbox)
    assert issued["expires_in"] == 1800
    hs = HubSpot(access_token=issued["access_token"], host=sandbox.hubspot_url)
    assert hs.crm.owners.owners_api.get_page(limit=1).results and _active(sandbox, issued["access_token"])
    sandbox.hubspot.expire_access_tokens(ago_s=75)
    with pytest.raises(ApiException) as e:
        hs.crm.owners.owners_api.get_page(limit=1)
    body = json.loads(e.value.body)
    assert e.value.status == 401 and body["status"] == "error" and body["category"] == "EXPIRED_AUTHENTICATION"
    assert re.fullmatch(r"The OAuth token used to make this call expired 7[5-9] second\(s\) ago\.", body["message"])
    assert list(body["context"]) == ["expire time"] and body["context"]["expire time"][0].endswith("Z")
    assert not _active(sandbox, issued["access_token"])
    fresh = _token(sandbox)["access_token"]  # the refresh token still works and gives a live token
    assert HubSpot(access_token=fresh, host=sandbox.hubspot_url).crm.owners.owners_api.get_page(limit=1).results


def test_the_private_app_token_does_not_expire(sandbox) -> None:
    sandbox.hubspot.expire_access_tokens(ago_s=86_400)
    hs = HubSpot(access_token=sandbox.hubspot_token, host=sandbox.hubspot_url)
    assert hs.crm.owners.owners_api.get_page(limit=1).results


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/email/public/v1/events?limit=1", "content"),
        ("/marketing/v3/forms?limit=1", "forms"),
        ("/form-integrations/v1/submissions/forms/5e3c2a1b-0000-4000-8000-00000000f0a1?limit=1", "forms"),
    ],
)
def test_marketing_reads_need_their_scope(sandbox, path: str, scope: str) -> None:  # noqa: ANN001
    """Email events need ``content`` (email analytics v1 guide), form submissions ``forms``
    (Forms v1 reference, "Scope requirements"); without it HubSpot answers 403 MISSING_SCOPES."""
    headers = {"Authorization": f"Bearer {sandbox.hubspot_token}"}
    assert requests.get(f"{sandbox.hubspot_url}{path}", headers=headers, timeout=10).status_code == 200
    sandbox.hubspot.scopes.discard(scope)
    refused = requests.get(f"{sandbox.hubspot_url}{path}", headers=headers, timeout=10)
    body = refused.json()
    assert refused.status_code == 403 and body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"] == {"requiredGranularScopes": [scope]}
