"""Impact arms: random control and ablations, assigned by the salted hash, really switch their
component off in the decide path, and the offline replay gives the probabilities decide logged."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import yaml

from decision.engine import EnginePolicy
from decision.experiment import COMPONENTS, assign_arms
from decision.interface import ContactView
from hub.config import DecisionSettings, parse_settings
from hub.errors import ConfigError, DecisionError
from hub.models import Contact
from hub.profile import build_profile
from tests.test_config import run_hub

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RULES = [
    {
        "name": "nurture",
        "when": "True",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
    }
]
ABLATIONS = {c: 0.14 for c in COMPONENTS}


def test_ablation_and_random_shares_move_only_engine_contacts():
    ids = np.arange(100_000)
    before = assign_arms(ids, "s", holdout_share=0.1, control_share=0.05)
    after = assign_arms(ids, "s", holdout_share=0.1, control_share=0.05, random_share=0.02, ablations=ABLATIONS)
    moved = before != after
    assert (before[moved] == "engine").all()  # holdout and control keep every contact
    for arm, share in [("random", 0.02), *((f"no_{c}", 0.14) for c in COMPONENTS)]:
        assert abs((after == arm).mean() - share) < 0.005, arm
    with pytest.raises(DecisionError, match="unknown engine component 'colour'"):
        assign_arms(ids, "s", ablations={"colour": 0.1})
    with pytest.raises(DecisionError, match="sum to at most 1"):
        assign_arms(ids, "s", holdout_share=0.5, ablations={"content": 0.6})


def test_config_names_the_key_path_of_a_bad_experiment_and_exits_2(tmp_path):
    with pytest.raises(ConfigError) as exc:
        parse_settings({"decision": {"engine": {"experiments": {"ablations": {"colour": 0.1}}}}})
    assert "decision.engine.experiments.ablations.colour" in str(exc.value)
    too_much = {"decision": {"engine": {"holdout_share": 0.5, "experiments": {"random_control": 0.6}}}}
    with pytest.raises(ConfigError, match="decision.engine"):
        parse_settings(too_much)
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(too_much))
    out = run_hub("config", "validate", "-c", str(path))
    assert out.returncode == 2 and "experiments.random_control" in out.stderr
    default = parse_settings({}).decision.engine.experiments
    assert default.random_control == 0 and default.ablations == {}  # off unless switched on


def _engine(**engine) -> EnginePolicy:
    base = {"holdout_share": 0.1, "explore_share": 0.0, "long_term_weight": 0.0, "seed": 2}
    return EnginePolicy(DecisionSettings(rules=RULES, engine={**base, **engine}))


def _rig(p: EnginePolicy, favourite: str) -> None:
    """Every learner but the prior one loves ``favourite`` (certain and mature)."""
    X = np.zeros((1, len(p.features([ContactView(contact=Contact(id=1))], NOW).names)))
    for model in (p.model, p.raw_model):
        if model is None:
            continue
        model.policy.choose_many(X)
        model.policy.mean_[p.ids.index(favourite), -1] = 50.0
        model.policy.n_obs_[:] = 1000
        model.policy.cov_ *= 1e-8


def _batch(n: int) -> list[ContactView]:
    return [ContactView(contact=Contact(id=i + 1), profile=build_profile([], NOW)) for i in range(n)]


def test_each_ablation_arm_switches_its_component_off():
    p = _engine(experiments={"random_control": 0.1, "ablations": ABLATIONS})
    _rig(p, "email_nurture_technical")
    batch = _batch(1500)
    decisions = p.decide(batch, NOW)
    by_arm: dict[str, list] = {}
    for d in decisions:
        by_arm.setdefault(d.arm, []).append(d)
    assert set(by_arm) == {"engine", "holdout", "random", *(f"no_{c}" for c in COMPONENTS)}

    def fields(d):
        return next(a.payload["fields"] for a in d.actions if a.kind == "set_fields")

    # the engine and the arms that keep the learner take its favourite; the prior follows the rules
    for arm in ("engine", "no_long_term_value", "no_send_time", "no_content", "no_opt_out_model"):
        assert {d.action for d in by_arm[arm]} == {"email_nurture_technical"}, arm
    assert {d.action for d in by_arm["no_learned_propensities"]} == {"email_nurture_business"}
    # send time: everyone acting gets one, except the arm without it
    assert all("best_send_time" in fields(d) for d in by_arm["engine"])
    assert not any("best_send_time" in fields(d) for d in by_arm["no_send_time"])
    # content: the bandit varies the variants; the arm without it gets each slot's first
    first = {f"content_{s}": v[0] for s, v in p.settings.content.items()}
    assert all({k: fields(d)[k] for k in first} == first for d in by_arm["no_content"])
    assert any({k: fields(d)[k] for k in first} != first for d in by_arm["engine"])
    # random control: many actions, each logged with 1 / (eligible actions)
    rnd = by_arm["random"]
    assert len({d.action for d in rnd}) >= 5
    replay = p.action_probabilities(batch, NOW)
    for i, d in enumerate(decisions):
        assert d.propensity == pytest.approx(replay[i, p.ids.index(d.action)], abs=1e-9), (d.arm, d.action)
    assert all("Impact arm" in d.explanation or "Random-control" in d.explanation for d in rnd)


def test_the_long_term_ablation_skips_the_rerank():
    """A sales call to a brand-new lead is overruled by long-term value (its stated prior says it
    burns early leads) in the engine arm, never in the arm without long-term value."""
    p = _engine(
        long_term_weight=0.9, sales_handoffs_per_owner_per_day=1000, experiments={"ablations": {"long_term_value": 0.4}}
    )
    _rig(p, "sales_outreach")
    p.model.policy.mean_[p.ids.index("sales_outreach"), -1] = 0.2  # worth a little more now
    p.model.policy.mean_[p.ids.index("email_nurture_business"), -1] = 0.1
    decisions = p.decide(_batch(200), NOW)
    engine = [d.action for d in decisions if d.arm == "engine"]
    ablated = [d.action for d in decisions if d.arm == "no_long_term_value"]
    assert engine and "sales_outreach" not in engine
    assert ablated and set(ablated) == {"sales_outreach"}


def test_the_opt_out_ablation_learns_raw_rewards_and_is_saved_with_the_model():
    p = _engine(experiments={"ablations": {"opt_out_model": 0.1}})
    assert p.raw_model is not None
    n_features = len(p.features(_batch(1), NOW).names)
    rng = np.random.default_rng(0)
    X = rng.random((4000, n_features))
    unsub = np.where(rng.random(4000) < 0.05, -30.0, 0.0)
    for _ in range(2):  # the second batch is smoothed by what the opt-out model learned in the first
        p.learn(X, ["email_nurture_technical"] * 4000, 1.0 + unsub, np.ones(4000), unsubscribe_points=unsub)
    smooth, raw = p.model.predict_many(X), p.raw_model.predict_many(X)
    assert not np.allclose(smooth, raw)
    again = _engine(experiments={"ablations": {"opt_out_model": 0.1}})
    again.load_model(3, p.snapshot())
    assert np.allclose(again.raw_model.predict_many(X), raw)
    assert _engine().raw_model is None  # nothing extra to learn unless the arm is configured
