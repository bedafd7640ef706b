"""HubSpot connector plugin (entry point ``hub.connectors: hubspot``)."""

from connectors.hubspot.connector import HubSpotConnector
from hub.hookspecs import hookimpl


@hookimpl
def hub_connector_types() -> list[type]:
    return [HubSpotConnector]
