"""Push rows as the decide step queues them, for the push store's tests."""

from __future__ import annotations


def set_field_rows(cid: int, did: int, records: list[str], fields: dict[str, str]) -> list[dict]:
    """One ``set_fields`` push of ``fields`` per CRM record of contact ``cid``, from decision ``did``."""
    return [
        {
            "decision_id": did,
            "contact_id": cid,
            "connector": "crm",
            "object_type": "contact",
            "external_id": r,
            "kind": "set_fields",
            "payload": {"fields": dict(fields)},
        }
        for r in records
    ]
