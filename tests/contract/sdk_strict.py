"""Strict checks of a JSON answer against hubspot-api-client's generated models.

The connector reads raw JSON (``_preload_content=False``), so nothing in it would notice the
sandbox answering in a shape the real API, as described by HubSpot's OpenAPI specs (which the
SDK is generated from), never has. ``conforms`` runs two checks on one answer:

1. the SDK's own deserialization with ``client_side_validation`` on (off by default in the
   SDK), which fails on a missing required field and a value outside an enum;
2. a walk of the JSON against each model's ``openapi_types``, which fails on a JSON type the
   spec does not allow (a number where a string is declared, a non-ISO datetime, a string
   where a boolean is declared: the SDK itself would silently turn ``"false"`` into True).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from types import ModuleType
from typing import Any

_PRIMITIVES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
#: where HubSpot's live answers differ from its own spec, with the evidence; the connector reads
#: both forms. v4 association ``toObjectId``: the spec (and the docs' example) say string, the API
#: sends a number, as recorded in Airbyte's source-hubspot unit tests
#: (airbytehq/airbyte airbyte-integrations/connectors/source-hubspot/unit_tests/test_components.py
#: @ 98760863c5630de10e2d781a9b130af03c9ae2e9, ``"toObjectId": 909``).
KNOWN_DEVIATIONS: dict[str, tuple[type, ...]] = {"toObjectId": (int,)}


def type_problems(raw: Any, type_name: str, models: ModuleType, path: str = "$") -> list[str]:
    """Where ``raw`` breaks the spec's type ``type_name`` (an SDK type string or model name)."""
    if raw is None:
        return []  # nullable or absent: required fields are the SDK's own check
    if m := re.fullmatch(r"list\[(.+)\]", type_name):
        if not isinstance(raw, list):
            return [f"{path}: a list is declared, got {type(raw).__name__}"]
        return [p for i, v in enumerate(raw) for p in type_problems(v, m.group(1), models, f"{path}[{i}]")]
    if m := re.fullmatch(r"dict[(\[]str, (.+)[)\]]", type_name):
        if not isinstance(raw, dict):
            return [f"{path}: an object is declared, got {type(raw).__name__}"]
        return [p for k, v in raw.items() for p in type_problems(v, m.group(1), models, f"{path}.{k}")]
    if type_name in _PRIMITIVES:
        allowed = _PRIMITIVES[type_name] + KNOWN_DEVIATIONS.get(path.rsplit(".", 1)[-1], ())
        ok = isinstance(raw, allowed) and not (type_name != "bool" and isinstance(raw, bool))
        return [] if ok else [f"{path}: {type_name} is declared, got {type(raw).__name__} {raw!r}"]
    if type_name in ("datetime", "date"):
        try:
            datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            return [f"{path}: an ISO-8601 {type_name} is declared, got {raw!r}"]
        return [] if isinstance(raw, str) else [f"{path}: an ISO-8601 string is declared, got {raw!r}"]
    if type_name == "object":
        return []
    cls = getattr(models, type_name)
    if not isinstance(raw, dict):
        return [f"{path}: {type_name} is an object, got {type(raw).__name__}"]
    out: list[str] = []
    for attr, sub in cls.openapi_types.items():
        key = cls.attribute_map[attr]
        if key in raw:
            out += type_problems(raw[key], sub, models, f"{path}.{key}")
    return out


def conforms(api: Any, response: Any, type_name: str, models: ModuleType) -> Any:
    """The SDK model for a raw ``urllib3`` answer; AssertionError naming every mismatch."""
    raw = json.loads(response.data)
    problems = type_problems(raw, type_name, models)
    assert not problems, f"{type_name}: " + "; ".join(problems[:10])
    client = api.api_client
    client.configuration.client_side_validation = True
    try:
        return client.deserialize(response, type_name)
    except (ValueError, TypeError) as exc:  # a required field missing, an enum value unknown
        raise AssertionError(f"{type_name}: {exc}") from None
    finally:
        client.configuration.client_side_validation = False
