"""Warehouse connector plugin (entry point ``hub.connectors: warehouse``)."""

from connectors.warehouse.connector import WarehouseConnector
from hub.hookspecs import hookimpl


@hookimpl
def hub_connector_types() -> list[type]:
    return [WarehouseConnector]
