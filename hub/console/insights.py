"""Console pages of what the engine learned and what it earned: Models (every saved snapshot,
the one in use marked) and Experiments (arms, per-contact business metrics and lift over the
baseline, from hub/reports/metrics.py like `hub report lift`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from hub.api.state import ApiState, hub_state
from hub.console.render import current, page, to_login
from hub.pipeline.learn import ensure_current
from hub.reports.data import load_arm_frame
from hub.reports.impact import impact_rows
from hub.reports.lift import arm_metrics, lift_rows, pick_baseline
from hub.store import learning as learning_store

router = APIRouter(prefix="/console", include_in_schema=False)


def models_summary(state: ApiState) -> dict:
    """Every stored model version (newest first), and the engine's model in use in this process
    after loading the newest snapshot, as decisions do."""
    ctx = state.ctx
    with ctx.store.connect() as conn:
        ensure_current(ctx, conn)
        snaps = learning_store.list_snapshots(conn)
    engine_name = getattr(ctx.policy, "model_name", None)
    rows = []
    newest: dict[str, int] = {}
    for s in snaps:
        newest[s["name"]] = max(newest.get(s["name"], 0), s["version"])
    for s in reversed(snaps):
        m = s["metrics"] or {}
        rows.append(
            {
                "name": s["name"],
                "version": s["version"],
                "created_at": s["created_at"],
                "learned": m.get("learned"),
                "mean_reward": m.get("mean_reward"),
                "feature_version": m.get("feature_version", "-"),
                "in_use": s["name"] == engine_name and s["version"] == newest[s["name"]],
                "rollback_of": m.get("rollback_of"),
            }
        )
    return {"policy": ctx.policy.name, "policy_version": ctx.policy.version, "engine": engine_name, "rows": rows}


def experiments_summary(state: ApiState) -> dict:
    """Arms with their per-contact metrics and the lift of each over the baseline."""
    with state.ctx.store.connect() as conn:
        frame = load_arm_frame(conn)
    weights = state.settings.decision.objective
    return {
        "arms": {arm: int((frame.arm == arm).sum()) for arm in frame.arms},
        "metrics": arm_metrics(frame, weights),
        "baseline": pick_baseline(frame.arms),
        "lifts": lift_rows(frame, weights=weights),
        "impact": [r.as_dict() for r in impact_rows(frame, weights)],  # as `hub report impact`
    }


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state)
    if sess is None or not sess.user:
        return to_login()
    return page(request, state, sess, "models.html", title="Models", **models_summary(state))


@router.get("/experiments", response_class=HTMLResponse)
def experiments(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state)
    if sess is None or not sess.user:
        return to_login()
    return page(request, state, sess, "experiments.html", title="Experiments", **experiments_summary(state))
