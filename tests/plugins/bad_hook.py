"""A plugin implementing a hook that does not exist: it fails hookspec validation."""

from hub.hookspecs import hookimpl


@hookimpl
def hub_no_such_hook() -> None:
    return None
