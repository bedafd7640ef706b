"""Every hook a Decision Hub plugin can implement.

Hooks register things; they do no work. Plugins are modules or objects whose functions are
marked with :data:`hookimpl`. Built-in connectors register through the same entry-point group
(``hub.connectors``) as third-party ones.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


@hookspec
def hub_connector_types() -> list[type]:
    """Return the :class:`hub.connector.Connector` subclasses this plugin provides.

    Called once when the plugin manager is built; every plugin's result is collected (not
    first-result). Each class must set ``type_name``, unique across plugins; a duplicate or a
    class that is not a Connector is reported by ``hub connectors list`` and skipped.
    """
