"""HubSpot's error body, shared by the server modules."""

from __future__ import annotations

import uuid
from typing import Any

from hub.sandbox.httpkit import Response


def err(status: int, message: str, category: str, **extra: Any) -> Response:
    """``{"status": "error", "message", "correlationId", "category", ...}`` as HubSpot sends."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    body.update(extra)
    return Response(status, body)
