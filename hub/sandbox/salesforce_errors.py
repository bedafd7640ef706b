"""Salesforce's REST error body, shared by the server modules."""

from __future__ import annotations

from hub.sandbox.httpkit import Response


def sf_err(status: int, code: str, message: str) -> Response:
    """``[{"message": ..., "errorCode": ...}]`` as Salesforce sends it."""
    return Response(status, [{"message": message, "errorCode": code}])
