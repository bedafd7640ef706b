"""The plugin manager: hookspecs, then the ``hub.connectors`` entry points, then local modules.

Nothing is loaded at import time. A plugin that fails to import, to validate against the
hookspecs, or to hand over proper Connector classes is recorded in ``load_errors`` and skipped;
the others still load.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import pluggy

from hub import hookspecs
from hub.connector import Connector, Runtime


class ConnectorEntryLike(Protocol):
    """A configured connector (hub.config.ConnectorEntry, which imports this module's manager
    to validate connector settings, so it is described here rather than imported)."""

    type: str
    settings: dict[str, Any]
    field_mapping: dict[str, str]


log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "hub.connectors"


@dataclass
class PluginInfo:
    name: str
    source: str
    types: list[str] = field(default_factory=list)
    error: str | None = None


class HubPlugins:
    """Connector types contributed by plugins, and what went wrong loading them."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("hub")
        self.pm.add_hookspecs(hookspecs)
        self.types: dict[str, type[Connector]] = {}
        self.plugins: list[PluginInfo] = []

    @property
    def load_errors(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]

    def register(self, plugin: Any, name: str, source: str) -> PluginInfo:
        info = PluginInfo(name=name, source=source)
        self.plugins.append(info)
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # a broken plugin must not stop the others
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            info.error = f"{type(exc).__name__}: {exc}"
            return info
        impl = getattr(plugin, "hub_connector_types", None)
        try:
            classes = list(impl() or []) if impl else []
        except Exception as exc:
            info.error = f"hub_connector_types() failed: {type(exc).__name__}: {exc}"
            self.pm.unregister(plugin)
            return info
        for cls in classes:
            problem = self._check_class(cls)
            if problem:
                info.error = problem
                continue
            self.types[cls.type_name] = cls
            info.types.append(cls.type_name)
        return info

    def _check_class(self, cls: Any) -> str | None:
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            return f"{cls!r} is not a hub.connector.Connector subclass"
        name = getattr(cls, "type_name", None)
        if not isinstance(name, str) or not name:
            return f"{cls.__name__} has no type_name"
        if cls.__abstractmethods__:
            return f"{cls.__name__} does not implement {sorted(cls.__abstractmethods__)}"
        if name in self.types and self.types[name] is not cls:
            return f"connector type {name!r} is already provided by {self.types[name].__module__}"
        return None

    def load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                plugin = ep.load()
            except Exception as exc:
                self.plugins.append(
                    PluginInfo(name=ep.name, source=ep.value, error=f"import failed: {type(exc).__name__}: {exc}")
                )
                log.warning("connector plugin %s failed to import: %s", ep.name, exc)
                continue
            self.register(plugin, ep.name, ep.value)

    def load_module(self, dotted: str) -> None:
        try:
            plugin = importlib.import_module(dotted)
        except Exception as exc:
            self.plugins.append(
                PluginInfo(name=dotted, source=dotted, error=f"import failed: {type(exc).__name__}: {exc}")
            )
            return
        self.register(plugin, dotted, dotted)

    def build(self, name: str, entry: ConnectorEntryLike, runtime: Runtime | None = None) -> Connector:
        cls = self.types[entry.type]
        settings = cls.settings_model.model_validate(entry.settings)
        return cls(name, settings, dict(entry.field_mapping), runtime)


def build_plugin_manager(extra_modules: list[str] | tuple[str, ...] = ()) -> HubPlugins:
    plugins = HubPlugins()
    plugins.load_entry_points()
    for dotted in extra_modules:
        plugins.load_module(dotted)
    return plugins
