"""Salesforce's duplicate rules for the sandbox org: the standard Lead and Contact rules.

A new org has them active (Salesforce Help, "Standard Lead Duplicate Rule" and "Standard Contact
Duplicate Rule"): on create, Allow with an alert; on edit, Allow with a report only. Orgs made
since Summer '17 match across objects: each rule runs the Lead and the Contact matching rule.

Through the API an alert is a refusal, 400 DUPLICATES_DETECTED, unless the request sends
``Sforce-Duplicate-Rule-Header: allowSave=true`` (REST API guide, "Duplicate Rule Header", API
52.0+; jsforce/jsforce#1055 got it on an update); a Block rule refuses whatever the header says.
Records saved in one request are compared with the database, not with each other. On edit a rule
runs only when the edit changes a field its matching rule compares (Salesforce help 005237351),
so a write of other fields to an existing duplicate goes through.

Matching: the standard matching equation has "(First Name AND Last Name AND Email)" among its
clauses (Salesforce Help, "Standard Contact Matching Rule and Standard Lead Matching Rule"),
names fuzzy, email exact. The sandbox matches that clause alone, names and email compared
without case: it finds fewer duplicates than Salesforce would, never more. Converted Leads are
not compared (GK). The Account rule (name with city or ZIP) is not modelled: nothing here
creates Accounts through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.sandbox.salesforce_state import SfError

#: the alert text of the standard rules, as a Contact create answered it (API v54.0, captured
#: in a public C# client's comment); older orgs say "Use one of these records?"
ALERT_TEXT = "You're creating a duplicate record. We recommend you use an existing record instead."
#: the fields the standard matching rules compare: an edit of any of them runs the rules
MATCHED_FIELDS = frozenset({"FirstName", "LastName", "Email", "Title", "Phone", "Company", "AccountId"})
#: matching rule names as duplicateResut names them (Contact's as captured, v54.0; Lead's GK)
MATCH_RULES = {"Contact": "Standard_Contact_Match_Rule_v1_1", "Lead": "Standard_Lead_Match_Rule_v1_0"}


@dataclass(frozen=True)
class DuplicateRule:
    """One active duplicate rule. ``on_create`` / ``on_edit``: "report" (allowed, no alert),
    "alert" (allowed only with allowSave=true) or "block"."""

    sobject: str
    name: str
    on_create: str = "alert"
    on_edit: str = "report"


STANDARD_RULES = (
    DuplicateRule("Lead", "Standard_Lead_Duplicate_Rule"),
    DuplicateRule("Contact", "Standard_Contact_Duplicate_Rule"),
)


def allow_save(header: str | None) -> bool:
    """``allowSave=true`` in a ``Sforce-Duplicate-Rule-Header`` (fields split by ``;``)."""
    for part in (header or "").split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "allowsave":
            return value.strip().lower() == "true"
    return False


def _key(rec: dict[str, Any]) -> tuple[str, str, str] | None:
    email = str(rec.get("Email") or "").strip().lower()
    if not email:  # the clause ignores a blank email: no match
        return None
    return (str(rec.get("FirstName") or "").lower(), str(rec.get("LastName") or "").lower(), email)


def matches(objects: dict[str, dict[str, dict[str, Any]]], rec: dict[str, Any], skip: set[str]) -> dict[str, list[str]]:
    """Live Leads and Contacts ``rec`` duplicates, by sObject type; ``skip``: ids not compared
    (the record itself, records saved in the same request)."""
    key = _key(rec)
    found: dict[str, list[str]] = {}
    if key is None:
        return found
    for sobject in ("Lead", "Contact"):
        for other in objects[sobject].values():
            if other["IsDeleted"] or other["Id"] in skip or (sobject == "Lead" and other.get("IsConverted")):
                continue
            if _key(other) == key:
                found.setdefault(sobject, []).append(other["Id"])
    return found


class DuplicatesDetected(SfError):
    """A save a duplicate rule refused; ``result`` is the ``duplicateResut`` a one-row REST
    write answers with (the key misspelt as Salesforce sends it: two public captures, v54.0 and
    v56.0). sObject Collections give the record only statusCode, message and fields (what
    Salesforce adds there is not confirmed)."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("DUPLICATES_DETECTED", ALERT_TEXT)
        self.result = result

    def rest_body(self) -> list[dict[str, Any]]:
        return [{"duplicateResut": self.result, "errorCode": self.code, "message": self.message}]


def check(
    rules: tuple[DuplicateRule, ...],
    objects: dict[str, dict[str, dict[str, Any]]],
    sobject: str,
    rec: dict[str, Any],
    *,
    editing: bool,
    allowed: bool,
    skip: set[str],
    version: str,
) -> None:
    """Refuse the save of ``rec`` (a new record, or one as an edit leaves it) as the org's
    active rules on ``sobject`` do; callers run it on edits that change a MATCHED_FIELDS field."""
    for rule in rules:
        action = rule.on_edit if editing else rule.on_create
        if rule.sobject != sobject or action == "report" or (action == "alert" and allowed):
            continue
        found = matches(objects, rec, skip)
        if not found:
            continue
        raise DuplicatesDetected(
            {
                "allowSave": action == "alert",
                "duplicateRule": rule.name,
                "duplicateRuleEntityType": sobject,
                "errorMessage": ALERT_TEXT,
                "matchResults": [
                    {
                        "entityType": t,
                        "errors": [],
                        "matchEngine": "FuzzyMatchEngine",
                        "matchRecords": [
                            {
                                "additionalInformation": [],
                                "fieldDiffs": [],
                                "matchConfidence": 100.0,
                                "record": {
                                    "attributes": {"type": t, "url": f"/services/data/v{version}/sobjects/{t}/{rid}"},
                                    "Id": rid,
                                },
                            }
                            for rid in ids
                        ],
                        "rule": MATCH_RULES[t],
                        "size": len(ids),
                        "success": True,
                    }
                    for t, ids in found.items()
                ],
            }
        )
