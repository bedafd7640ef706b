"""Everything a pipeline step needs, built once per process from Settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from threading import Lock

from decision.factory import build_policy
from decision.interface import Policy
from hub.config import Settings
from hub.connector import Connector, Runtime
from hub.errors import ConfigError
from hub.locks import LocalLocks, Locks, RedisLocks
from hub.models import utcnow
from hub.plugins import HubPlugins, build_plugin_manager
from hub.store import Store
from hub.store.planner import DECIDE_TABLES, GrowthAnalyzer


def declared_properties(settings: Settings, name: str) -> tuple[str, ...]:
    """The custom properties connector ``name`` should read for declared features: those naming
    it (by name or type) and those naming no connector."""
    entry = settings.connectors[name]
    out = []
    for d in settings.decision.features:
        prop = d.source.property_name()
        if prop is not None and d.source.connector in (None, name, entry.type) and prop not in out:
            out.append(prop)
    return tuple(out)


@dataclass
class HubContext:
    settings: Settings
    plugins: HubPlugins
    store: Store
    locks: Locks
    runtime: Runtime = field(default_factory=Runtime)
    #: the time decisions are stamped with and windows close by; a simulation sets its own
    clock: Callable[[], datetime] = utcnow
    _connectors: dict[str, Connector] = field(default_factory=dict)
    #: one build per connector though the API's threads (a console check, embedded syncs) ask at once
    _building: Lock = field(default_factory=Lock, repr=False)
    #: the embedded runner's last lead-scoring try (a cold-start try registers no version)
    scoring_tried_at: datetime | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        embedded: bool = False,
        plugins: HubPlugins | None = None,
        store: Store | None = None,
    ) -> HubContext:
        plugins = plugins or build_plugin_manager(settings.plugins)
        store = store or Store(settings.store_url)
        locks: Locks = LocalLocks() if embedded else RedisLocks(settings.broker_url)
        runtime = Runtime(shared_url=None if embedded else settings.broker_url)
        return cls(settings=settings, plugins=plugins, store=store, locks=locks, runtime=runtime)

    def connector(self, name: str) -> Connector:
        built = self._connectors.get(name)
        if built is not None:
            return built
        with self._building:
            if name not in self._connectors:
                entry = self.settings.connectors.get(name)
                if entry is None:
                    raise ConfigError([(f"connectors.{name}", "no such connector in the config")])
                conn = self.plugins.build(name, entry, self.runtime)
                conn.extra_properties = declared_properties(self.settings, name)
                self._connectors[name] = conn
            return self._connectors[name]

    @cached_property
    def policy(self) -> Policy:
        return build_policy(self.settings.decision)

    @cached_property
    def decide_growth(self) -> GrowthAnalyzer:
        """Decide's tables as this process fills them: analyzed early (1,000 rows), so a worker
        started on an empty store does not keep foreign-key checks planned for an empty one."""
        return GrowthAnalyzer(self.store, floor=1_000, tables=DECIDE_TABLES)

    def close(self) -> None:
        for c in self._connectors.values():
            c.close()
        self._connectors.clear()
        self.store.dispose()
