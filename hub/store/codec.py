"""The JSON text the store writes: one serializer for every JSON column and statement."""

from __future__ import annotations

import json
from typing import Any

import orjson

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps_json(value: Any) -> str:
    """JSON for the store's JSON columns: orjson, a tenth of the standard library's cost (a
    decision's features, trace and actions are written on the real-time path), and
    ``json.dumps`` for what orjson refuses (an integer past 64 bits), which raises TypeError for
    what JSON cannot hold. NaN becomes null, where ``json.dumps`` wrote ``NaN``, which
    PostgreSQL refuses and no store value may hold."""
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)
