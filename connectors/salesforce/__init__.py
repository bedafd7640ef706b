"""Salesforce connector plugin (registered through the ``hub.connectors`` entry point group).

hub.yaml::

    connectors:
      salesforce:
        type: salesforce
        field_mapping: {lead_score: ns__Score__c}   # optional; default Hub_Lead_Score__c
        settings:
          username: ${SF_USERNAME}                  # JWT bearer (recommended); also client
          consumer_key: ${SF_CONSUMER_KEY}          # credentials, password (deprecated) or
          privatekey_file: /etc/hub/salesforce.key  # session_id + instance_url: see config.py
          domain: acme.my
          objects: [Contact, Lead]
          campaigns: {sales-ready: 701000000000001}  # else found by name or created
          push_budget_share: 0.9                    # pause pushing above 90% of the daily limit

Modules: ``config`` (settings), ``client`` (session, errors, usage), ``objects`` (what is read),
``cursor`` + ``reader`` (SystemModstamp windows), ``mapping`` (every Salesforce name),
``actions`` (push writers), ``schema`` (describe audit, Metadata API), ``permissions``
(field-level security through a permission set), ``connector`` (the contract).
``SalesforceConnector.usage()`` returns ``{"api_used", "api_limit", "share", "push_pause_share",
"push_paused", "calls", "logins"}`` for ``hub status``.
"""

from __future__ import annotations

from connectors.salesforce.connector import SalesforceConnector
from hub.hookspecs import hookimpl

type_name = "salesforce"


@hookimpl
def hub_connector_types() -> list[type]:
    return [SalesforceConnector]


__all__ = ["SalesforceConnector", "hub_connector_types", "type_name"]
