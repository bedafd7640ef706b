"""Declared features against the store: fit once per declaration, then read in batches.

:func:`ensure_features` runs before deciding and learning. The first time a declaration
(``decision.features``) is seen it registers the profile tags it needs, backfills profiles
from the activities table if a tag is new (one history scan per new tag, never per decision),
fits the spec on up to :data:`FIT_ROWS` of the store's newest contacts and stores it
(hub/store/feature_specs.py). Every later process loads that stored state, so all of them
read identical columns. :func:`declared_matrix` is the entry point for scoring and routing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import select

from decision.declared.settings import FeatureDecl
from decision.declared.spec import DeclaredSpec
from hub.pipeline.context import HubContext
from hub.profile import empty_profile
from hub.store import Store, feature_specs
from hub.store import contacts as contact_store
from hub.store.activities import rebuild_profiles
from hub.store.profiles import load_profiles
from hub.store.schema import contacts

log = logging.getLogger(__name__)
#: contacts the learned state (levels, means) is fitted on: the newest ones by id
FIT_ROWS = 50_000
CHUNK = 1_000


def _engine(ctx: HubContext):
    from decision.engine import EnginePolicy

    policy = ctx.policy
    return policy if isinstance(policy, EnginePolicy) else None


def ensure_features(ctx: HubContext) -> None:
    """Bind the engine's declared features to their stored (or newly fitted) state."""
    engine = _engine(ctx)
    if engine is None or engine.features_ready:
        return
    spec = load_or_fit(ctx.store, engine.declared.decls, ctx.clock())
    engine.bind_features(spec)
    log.info("declared features %s bound; engine model %s", spec.version, engine.model_name)


def bind_stored(ctx: HubContext) -> bool:
    """Bind the declared features' stored fitted state if there is one, never fitting it (for
    readers such as `hub status`, which must not write); False while none is stored yet."""
    engine = _engine(ctx)
    if engine is None or engine.features_ready:
        return True
    with ctx.store.connect() as conn:
        state = feature_specs.load_spec(conn, engine.declared.declaration)
    if state is None:
        return False
    engine.bind_features(DeclaredSpec.from_state(engine.declared.decls, state))
    return True


def load_or_fit(store: Store, decls: Sequence[FeatureDecl], now: datetime) -> DeclaredSpec:
    spec = DeclaredSpec(decls)
    with store.connect() as conn:
        state = feature_specs.load_spec(conn, spec.declaration)
    if state is not None:
        return DeclaredSpec.from_state(decls, state)
    with store.begin() as conn:
        new = feature_specs.register_tags(conn, spec.tags, now)
        if new:
            log.info("backfilling profiles for %d new declared tag(s) from stored activities", len(new))
            rebuild_profiles(conn)
    with store.connect() as conn:
        ids = list(conn.execute(select(contacts.c.id).order_by(contacts.c.id.desc()).limit(FIT_ROWS)).scalars())
        people, profiles = _load(conn, sorted(ids))
    spec.fit(people, profiles, now)
    metrics = {"declaration": spec.declaration, "fitted_on": len(people), "names": spec.names}
    with store.begin() as conn:
        state = feature_specs.save_spec(conn, spec.declaration, spec.state(), metrics, now)
    return DeclaredSpec.from_state(decls, state)


def _load(conn, ids: Sequence[int]):  # noqa: ANN001, ANN202
    """Contacts and profiles of ``ids`` in chunks (SQLite caps bound parameters)."""
    people, profiles = [], []
    for start in range(0, len(ids), CHUNK):
        part = list(ids[start : start + CHUNK])
        found = contact_store.load_contacts(conn, part)
        prof = load_profiles(conn, part)
        people += found
        profiles += [prof.get(c.id) or empty_profile() for c in found]
    return people, profiles


def declared_matrix(
    store: Store, spec: DeclaredSpec, contact_ids: Sequence[int], now: datetime
) -> tuple[np.ndarray, list[str], list[int]]:
    """(X, column names, contact ids in row order) of the declared columns for these contacts:
    what the engine reads, for lead scoring and routing to use the same spec."""
    with store.connect() as conn:
        people, profiles = _load(conn, list(contact_ids))
    X, _ = spec.transform(people, profiles, now)
    return X, spec.names, [int(c.id) for c in people if c.id is not None]
