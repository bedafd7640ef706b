"""Salesforce connector plugin (registered through the ``hub.connectors`` entry point group)."""

from __future__ import annotations

from connectors.salesforce.connector import SalesforceConnector
from hub.hookspecs import hookimpl

type_name = "salesforce"


@hookimpl
def hub_connector_types() -> list[type]:
    return [SalesforceConnector]


__all__ = ["SalesforceConnector", "hub_connector_types", "type_name"]
