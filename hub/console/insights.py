"""Console pages of what the engine learned and what it earned: Models (every saved snapshot,
the one in use marked) and Experiments (arms, per-contact business metrics and lift over the
baseline, from hub/reports/metrics.py like `hub report lift`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from decision.long_term import HORIZON_DAYS
from hub.api.state import ApiState, hub_state
from hub.console import overview as kpi
from hub.console.render import current, page, to_login
from hub.pipeline.model_versions import NO_MODELS, ModelVersion, model_versions
from hub.reports.impact import impact_rows
from hub.reports.svg import line_chart
from hub.reports.timeseries import Series

router = APIRouter(prefix="/console", include_in_schema=False)


def models_summary(state: ApiState) -> dict:
    """Every stored model version (newest first, as `hub model list` lists them) and the policy in use."""
    from hub.pipeline.learn import policy_in_use

    ctx = state.ctx
    rows = model_versions(ctx)
    policy, version = policy_in_use(ctx)
    return {
        "policy": policy,
        "policy_version": version,
        "engine": getattr(ctx.policy, "model_name", None),
        "rows": rows,
        "no_models": NO_MODELS,
        "long_term": long_term_state(ctx.policy),
    }


def long_term_state(policy) -> str:  # noqa: ANN001
    """Where the engine's long-term value comes from, in words (empty for other policies)."""
    lt = getattr(policy, "long_term", None)
    if lt is None:
        return ""
    if not policy.settings.engine.long_term_learning:
        return (
            "Long-term value: the stated prior per action kind and stage (decision.engine.long_term_learning is off)."
        )
    if lt.learned_through is None:
        return (
            f"Long-term value: learning, nothing learned yet (a decision counts {HORIZON_DAYS} days after "
            "its attribution window closes); until then the stated prior."
        )
    return (
        f"Long-term value: learned from decisions through {lt.learned_through[0]:%Y-%m-%d} "
        f"(randomized rows weigh {lt.counts.sum():,.0f} in all), moved off the stated prior "
        "only where two standard errors allow."
    )


def experiments_summary(state: ApiState) -> dict:
    """Arms with their per-contact metrics, the lift of each over the baseline, and charts."""
    with state.ctx.store.connect() as conn:
        summary = kpi.lift(state.ctx, conn)
    impact = [
        r.as_dict() for r in impact_rows(summary["frame"], state.settings.decision.objective)
    ]  # as `hub report impact`
    return {**summary, **kpi.lift_charts(summary), "impact": impact}


def model_chart(rows: list[ModelVersion]) -> str:
    """Mean reward learned from, per saved version of the model in use, oldest first."""
    pts = [r for r in reversed(rows) if r.in_family and r.mean_reward is not None]
    if len(pts) < 2:
        return ""
    series = [Series("mean reward", [r.created_at for r in pts], [float(r.mean_reward) for r in pts])]
    return line_chart(series, title="Mean reward of what each version learned from", y_label="objective points")


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state)
    if sess is None or not sess.user:
        return to_login()
    summary = models_summary(state)
    return page(request, state, sess, "models.html", title="Models", chart=model_chart(summary["rows"]), **summary)


@router.get("/experiments", response_class=HTMLResponse)
def experiments(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state)
    if sess is None or not sess.user:
        return to_login()
    return page(request, state, sess, "experiments.html", title="Experiments", **experiments_summary(state))
