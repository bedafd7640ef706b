"""Saved model versions as people read them, for `hub model list` and the console's Models page:
newest first, the engine's version that decides marked, a rollback's copy named, and the empty
store said one way (the two listed in opposite orders and only the page said which one decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.pipeline.context import HubContext
from hub.pipeline.features import bind_stored
from hub.pipeline.learn import ensure_current
from hub.reports.numbers import counted
from hub.store import learning as learning_store

#: the stored fitted state of declared features (hub/store/feature_specs.py), listed with the models
FEATURES_PREFIX = "features-"

NO_MODELS = (
    "No model saved yet: the engine learns once its decisions' attribution windows close (the learn step "
    "of hub run or hub beat). Until then it follows the legacy rules."
)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    created_at: datetime
    learned: int | None
    mean_reward: float | None
    feature_version: str
    in_use: bool  # the engine's newest version: what decisions load
    in_family: bool  # the engine's model, so a rollback can make this version live again
    rollback_of: int | None
    warm_start_rows: int | None = None  # saved by `hub learn history` from this many past touches

    def note(self) -> str:
        """``in use``, ``copy of v3``, ``warm start from 600 past touches``, some of them or nothing:
        the note column of `hub model list` and of the console's Models page."""
        if self.name.startswith(FEATURES_PREFIX):  # kept beside the models, but no model
            return "fitted state of decision.features (not a model)"
        parts = ["in use"] if self.in_use else []
        if self.rollback_of:
            parts.append(f"copy of v{self.rollback_of}")
        if self.warm_start_rows is not None:
            parts.append(f"warm start from {counted(self.warm_start_rows, 'past touch', 'past touches')}")
        return ", ".join(parts)


def model_versions(ctx: HubContext) -> list[ModelVersion]:
    """Every stored version, newest first, after loading the engine's newest snapshot as decisions do."""
    bind_stored(ctx)  # declared features name the engine's model: the one marked in use
    with ctx.store.connect() as conn:
        ensure_current(ctx, conn)
        snaps = learning_store.list_snapshots(conn)
    engine = getattr(ctx.policy, "model_name", None)
    newest: dict[str, int] = {}
    for s in snaps:
        newest[s["name"]] = max(newest.get(s["name"], 0), s["version"])
    return [
        ModelVersion(
            name=s["name"],
            version=s["version"],
            created_at=s["created_at"],
            learned=(s["metrics"] or {}).get("learned"),
            mean_reward=(s["metrics"] or {}).get("mean_reward"),
            feature_version=(s["metrics"] or {}).get("feature_version", "-"),
            in_use=s["name"] == engine and s["version"] == newest[s["name"]],
            in_family=s["name"] == engine,
            rollback_of=(s["metrics"] or {}).get("rollback_of"),
            warm_start_rows=((s["metrics"] or {}).get("warm_start") or {}).get("rows"),
        )
        for s in reversed(snaps)
    ]


def new_model_note(ctx: HubContext, versions: list[ModelVersion]) -> str | None:
    """When versions are stored but none is the engine's own: hub.yaml changed what the model is
    (catalog, feature schema, bandit, seed), so the engine decides with a new, cold model. The
    list showed every older version with no "in use" and said nothing of it."""
    engine = getattr(ctx.policy, "model_name", None)
    if engine is None or not versions or any(v.in_family for v in versions):
        return None
    return (
        f"The engine's model for this hub.yaml, {engine}, has no saved version yet: its catalog, feature schema"
        " or bandit differs from the versions listed, so it starts cold (following the legacy rules until"
        " actions mature) and `hub model rollback` reaches only its own versions."
    )
