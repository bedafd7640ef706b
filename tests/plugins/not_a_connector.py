"""A plugin whose hook hands over something that is not a Connector."""

from hub.hookspecs import hookimpl


class Nope:
    type_name = "nope"


@hookimpl
def hub_connector_types() -> list[type]:
    return [Nope]
