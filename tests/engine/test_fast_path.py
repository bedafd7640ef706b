"""The real-time path is the batch path on one row: caches and shortcuts change no decision.

A real-time decision is ``EnginePolicy.decide`` on a batch of one, so it shares every line with
the decide workers' batches; what makes it cheap is state computed once per model version
(float32 covariance, noise scale, feature schema) and per batch (design, means, widths). These
tests pin that none of it changes what is decided.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from decision.content import ContentSlots
from decision.engine import EnginePolicy
from decision.experiment import unit_hash
from decision.interface import ContactView
from decision.long_term import rerank, reranked_draws, routed_probabilities
from decision.policies import Apprentice, LinearThompson
from decision.scoring.points import points_probability
from hub.config import DecisionSettings
from hub.errors import DecisionError
from hub.models import Activity, ActivityType, Company, Contact

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = [
    {
        "name": "hot",
        "when": "activities_30d['page_view'] >= 3",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "sales_outreach"}}],
    }
]


def views(n: int, seed: int = 0) -> list[ContactView]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = Contact(
            id=i + 1,
            emails=[f"p{i}@example.com"],
            job_title=["VP Sales", "Engineer", None][i % 3],
            company=Company(name="Co", employees=int(rng.choice([10, 200, 5000]))),
        )
        acts = [
            Activity(
                contact_id=i + 1,
                type=[ActivityType.PAGE_VIEW, ActivityType.EMAIL_OPEN][k % 2],
                occurred_at=NOW - timedelta(hours=int(rng.integers(1, 900))),
                source="test",
                external_id=f"{i}-{k}",
            )
            for k in range(int(rng.integers(0, 7)))
        ]
        out.append(ContactView(contact=c, activities=acts))
    return out


def trained(batch: list[ContactView]) -> tuple[EnginePolicy, bytes]:
    """An engine whose every action has matured (so the bandit, not the rules, decides)."""
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": RULES, "engine": {"holdout_share": 0.0}}))
    rng = np.random.default_rng(1)
    X = engine.features(batch, NOW).X[rng.integers(0, len(batch), 2000)]
    actions = [engine.ids[i] for i in rng.integers(0, len(engine.ids), 2000)]
    engine.learn(X, actions, rng.normal(1.0, 1.0, 2000), np.full(2000, 0.2))
    return engine, engine.snapshot()


def reseed(engine: EnginePolicy) -> None:
    """Every random stream a decision reads, set to the same state."""
    engine._rng = np.random.default_rng(5)
    engine.model.policy._rng = np.random.default_rng(6)
    for j, bandit in enumerate(engine.extras.content.bandits.values()):
        bandit._rng = np.random.default_rng(7 + j)
    engine.extras.channel.population_rate = np.full(4, 0.2)


def test_one_row_alone_sees_what_it_sees_inside_a_batch():
    batch = views(40)
    engine, _ = trained(batch)
    F = engine.features(batch, NOW)
    mask = engine.mask(batch, NOW, F)
    model = engine.model.policy
    with model.one_batch():
        means, widths = model.predict_many(F.X), model._width(F.X)
    for i in (0, 17, 39):
        one = engine.features([batch[i]], NOW)
        np.testing.assert_array_equal(one.X[0], F.X[i])
        np.testing.assert_array_equal(engine.mask([batch[i]], NOW, one)[0], mask[i])
        np.testing.assert_allclose(model.predict_many(one.X)[0], means[i], rtol=1e-12)
        # widths are float32 products (they only scale exploration): BLAS sums a one-row batch
        # in another order than a 40-row one, so they agree to float32 precision, not bit for bit
        np.testing.assert_allclose(model._width(one.X)[0], widths[i], rtol=1e-3)


def test_an_engine_with_warm_caches_decides_exactly_as_a_fresh_one_from_the_same_snapshot():
    batch = views(30)
    warm, _ = trained(batch)
    warm.decide(batch, NOW)  # fills every per-model cache
    rng = np.random.default_rng(9)  # then learns: each cache must follow the new state
    X = warm.features(batch, NOW).X
    warm.learn(X, [warm.ids[i] for i in rng.integers(0, len(warm.ids), 30)], rng.normal(5.0, 1.0, 30), np.ones(30))
    fresh = EnginePolicy(warm.settings)
    fresh.load_model(1, warm.snapshot())
    for engine in (warm, fresh):
        reseed(engine)
    for i in range(len(batch)):  # real-time: one row at a time, as POST /v1/decisions does
        a, b = warm.decide([batch[i]], NOW)[0], fresh.decide([batch[i]], NOW)[0]
        assert (a.arm, a.action, a.propensity, a.explanation) == (b.arm, b.action, b.propensity, b.explanation)
        assert [x.payload for x in a.actions] == [x.payload for x in b.actions]
    assert {d.arm for d in warm.decide(batch, NOW)} == {"engine"}


def test_caches_follow_learning_and_any_new_covariance():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 5))
    p = LinearThompson(n_actions=3, seed=0, squared_features=True, learn_noise=True)
    p.learn_many(X, rng.integers(0, 3, 300), rng.normal(size=300))
    before = p._width(X[:4])
    p.learn_many(X[:50], np.zeros(50, dtype=int), rng.normal(3.0, 1.0, 50))
    after = p._width(X[:4])
    assert not np.allclose(after[:, 0], before[:, 0])  # action 0 learned: its width moved
    fresh = LinearThompson.from_state(p.state_dict())
    np.testing.assert_allclose(after, fresh._width(X[:4]), rtol=1e-6)
    p.cov_ *= 4.0  # an in-place rescale assigns the attribute: the float32 copy is dropped
    np.testing.assert_allclose(p._width(X[:4]), 2.0 * after, rtol=1e-5)


def test_routing_every_draw_at_once_equals_reranking_each_draw():
    rng = np.random.default_rng(3)
    n, k = 200, 6
    short, lt = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    mask = rng.random((n, k)) < 0.7
    mask[:, 0] = True
    probs = rng.dirichlet(np.ones(k), n) * mask
    probs /= probs.sum(axis=1, keepdims=True)
    expected = np.zeros((n, k))
    for a in range(k):
        final = rerank(np.full(n, a), short, lt, mask, 0.3)[0]
        np.add.at(expected, (np.arange(n), final), probs[:, a])
    routed = routed_probabilities(probs, short, lt, mask, 0.3)
    np.testing.assert_allclose(routed, expected)
    assert (routed != probs).any()  # the rerank did move some mass
    # the engine reads a row's own rerank from the same table: rerank's actions and overrules
    chosen = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
    new, over = rerank(chosen, short, lt, mask, 0.3)
    from_table = reranked_draws(short, lt, mask, 0.3)[np.arange(n), chosen]
    np.testing.assert_array_equal(from_table, new)
    np.testing.assert_array_equal(from_table != chosen, over)
    assert over.any() and not over.all()


@pytest.mark.parametrize("ids", [[7], [1, 22, 333], ["42", 42, "é-x"]])
def test_the_scalar_arm_hash_equals_the_array_one(ids):
    as_array = unit_hash(np.array([str(i) for i in ids] + ["pad"] * 20), "engine-1")[: len(ids)]
    np.testing.assert_array_equal(unit_hash(ids, "engine-1"), as_array)


def test_content_choice_has_the_bandits_choice_distribution():
    """One Beta draw and argmax per contact (no Monte-Carlo propensities): the shares of each
    variant match the bandit's own Thompson choices within sampling noise."""
    slots = ContentSlots({"subject": ["a", "b", "c"]}, seed=0)
    rewards = [1.0] * 22 + [0.0] * 18 + [1.0] * 18 + [0.0] * 22 + [0.0] * 40
    slots.learn("subject", ["a"] * 40 + ["b"] * 40 + ["c"] * 40, rewards)
    fast = slots.choose(20_000)["content_subject"]
    bandit = slots.bandits["subject"]
    slow = bandit.choose_many(np.zeros((20_000, 0))).actions
    for j, v in enumerate("abc"):
        assert abs(fast.count(v) / 20_000 - float(np.mean(slow == j))) < 0.02
    assert fast.count("a") > fast.count("b") > fast.count("c")


def test_a_restarted_send_time_model_draws_as_a_newly_built_one():
    """The extras restart one send-time model per batch instead of seeding a new one."""
    from decision.send_time import SendTimeModel

    rng = np.random.default_rng(4)
    local = rng.poisson(0.3, size=(12, 168)).astype(float)
    local[0] *= 40  # one contact over the hour-of-week threshold
    seg, off = rng.integers(0, 3, 12), rng.integers(-8, 9, 12)
    reused = SendTimeModel(seed=1).fit(local, seg)  # some other batch first
    reused.choose(local, seg, NOW, off)
    for seed in (5, 5, 9):
        fresh = SendTimeModel(seed=seed).fit(local, seg).choose(local, seg, NOW, off)
        again = reused.restart(seed).fit(local, seg).choose(local, seg, NOW, off)
        assert again.field_value == fresh.field_value
        np.testing.assert_array_equal(again.slot, fresh.slot)


def test_long_term_tables_follow_learning_and_loading():
    from decision.long_term import LongTermValue

    lt = LongTermValue(3, 4, prior_lift=np.full((3, 4), 0.01), wait_action=0)
    p0, stages = np.array([0.05, 0.3]), np.array([0, 2])
    before = lt.value(p0, stages, np.ones(2))
    lt.learn(np.array([1, 1, 0, 2]), np.array([0, 2, 0, 2]), np.array([1.0, 1.0, 0.0, 0.0]), 0)
    after = lt.value(p0, stages, np.ones(2))
    assert not np.allclose(before, after)
    fresh = LongTermValue(3, 4, prior_lift=np.full((3, 4), 0.01), wait_action=0)
    fresh.load_state(lt.state())
    np.testing.assert_array_equal(fresh.value(p0, stages, np.ones(2)), after)
    lt.load_state(LongTermValue(3, 4, wait_action=0).state())  # new sums drop the cached tables
    np.testing.assert_array_equal(lt.value(p0, stages, np.ones(2)), before)


def test_window_counts_equal_counting_each_window_directly():
    """featurize counts every window in one pass; here each window is counted on its own."""
    from decision.features import ACTIVITY_KINDS, WINDOWS

    batch = views(25, seed=8)
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": RULES}))
    F = engine.features(batch, NOW)
    for i, view in enumerate(batch):
        for kind in ACTIVITY_KINDS:
            for w in WINDOWS:
                # calendar days: window w holds the buckets of the last w days, today included
                today = NOW.date()
                n = sum(
                    1
                    for a in view.activities
                    if a.type.value == kind and a.occurred_at <= NOW and (today - a.occurred_at.date()).days < w
                )
                assert F.column(f"{kind}_{w}d")[i] == n, (i, kind, w)


def test_the_apprentice_decides_alike_inside_and_outside_a_batch_scope():
    """Inside a scope the restricted mask and widths are computed once and reused; outside,
    every call computes its own: the same choices and probabilities either way."""
    batch = views(30)
    engine, _ = trained(batch)
    F = engine.features(batch, NOW)
    mask = engine.mask(batch, NOW, F)
    baseline = np.full(len(batch), engine.wait_index)
    model = engine.model
    out = []
    for scoped in (True, False):
        model.policy._rng = np.random.default_rng(3)
        scope = model._one_batch() if scoped else contextlib.nullcontext()
        with scope:
            c = model.choose_many(F.X, mask, baseline=baseline)
            p = model.probabilities_many(F.X, mask, baseline=baseline)
        out.append((c.actions, c.propensities, p))
    for a, b in zip(*out, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [1, 2, 10])
def test_beta_draws_one_by_one_equal_the_array_draw(n):
    from decision.policies import BetaBernoulli

    a, b = BetaBernoulli(n_actions=3, seed=4), BetaBernoulli(n_actions=3, seed=4)
    for p in (a, b):
        p.learn_many(np.zeros((30, 0)), np.arange(30) % 3, (np.arange(30) % 4 == 0).astype(float))
    scalar = a.thompson_draw(n)  # one row: its draws one by one; more: one array call
    expected = np.argmax(b._rng.beta(b.alpha_, b.beta_, size=(n, 3)), axis=1)
    np.testing.assert_array_equal(scalar, expected)
    assert a._rng.random() == b._rng.random()  # and the streams moved alike


def test_send_times_are_the_same_when_threads_decide_at_once():
    """The API decides in several threads with one engine: each thread restarts its own
    send-time model, so a send time never depends on another thread's batch."""
    from concurrent.futures import ThreadPoolExecutor

    from hub.profile import build_profile

    batch = views(12, seed=5)
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": RULES}))
    F = engine.features(batch, NOW)
    profiles = [build_profile(v.activities, NOW) for v in batch]
    chosen = np.full(len(batch), engine.ids.index(next(a.id for a in engine.entries if a.kind == "email")))

    def send_times(i: int) -> list[str]:
        rows = [i % len(batch)] if i % 2 else list(range(len(batch)))  # one row, or the batch
        ex = engine.extras.build(
            [profiles[j] for j in rows],
            ["Europe/Berlin"] * len(rows),
            [False] * len(rows),
            [False] * len(rows),
            F.subset(np.array(rows)),
            chosen[rows],
            NOW,
        )
        return [f.get("best_send_time") for f in ex.fields]

    expected = [send_times(i) for i in range(40)]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(send_times, range(40))) == expected


def test_a_view_with_activities_decides_as_the_same_view_with_its_stored_profile():
    """Real-time views carry activities, decide workers' views the stored profile: the lead
    score, send time and long-term value must read the same history from either."""
    from hub.profile import build_profile

    batch = views(30)
    engine, _ = trained(batch)
    stored = [replace(v, activities=[], profile=build_profile(v.activities, NOW)) for v in batch]
    reseed(engine)
    live = engine.decide(batch, NOW)
    reseed(engine)
    kept = engine.decide(stored, NOW)

    def fields(d):
        return {k: v for a in d.actions for k, v in a.payload.get("fields", {}).items()}

    scores = [fields(d).get("lead_score") for d in live]
    assert scores == [fields(d).get("lead_score") for d in kept]
    assert any(s for s in scores)  # the history is read: some rows score above 0
    assert [d.action for d in live] == [d.action for d in kept]
    assert [fields(d) for d in live] == [fields(d) for d in kept]


@pytest.mark.parametrize("n", [1, 30])
def test_the_mixed_choice_draws_and_decides_as_its_four_calls(n):
    """``Apprentice.choose_mixed`` checks the inputs once: the same actions, mixture
    probabilities and random stream as the apprentice's choice, the inner policy's choice on the
    free rows, then both probabilities."""
    batch = views(30)
    engine, _ = trained(batch)
    F = engine.features(batch[:n], NOW)
    mask = engine.mask(batch[:n], NOW, F)
    baseline = np.arange(n) % len(engine.ids)
    free = np.arange(n) % 3 == 0  # one row: free; thirty: some of each
    model, share = engine.model, 0.1
    model.policy._rng = np.random.default_rng(11)
    with model._one_batch():
        actions = model.choose_many(F.X, mask, baseline=baseline).actions.copy()
        actions[free] = model.policy.choose_many(F.X[free], mask[free]).actions
        probs = (1 - share) * model.probabilities_many(F.X, mask, baseline=baseline)
        probs = probs + share * model.policy.probabilities_many(F.X, mask)
    after = model.policy._rng.random()
    model.policy._rng = np.random.default_rng(11)
    with model._one_batch():
        got_actions, got_probs = model.choose_mixed(F.X, mask, baseline, free, share)
    np.testing.assert_array_equal(got_actions, actions)
    np.testing.assert_array_equal(got_probs, probs)
    assert model.policy._rng.random() == after


def test_win_shares_by_bincount_equal_the_mean_of_one_hot_wins():
    from decision.policies.base import win_shares

    rng = np.random.default_rng(4)
    for m, n, k in [(100, 1, 9), (100, 7, 3), (37, 40, 12), (1, 3, 2)]:
        winners = rng.integers(0, k, size=(m, n))
        expected = (winners[:, :, None] == np.arange(k)).sum(axis=0, dtype=np.float64) / m
        np.testing.assert_array_equal(win_shares(winners, k), expected)


def test_the_wrapper_free_clips_and_means_give_numpys_floats():
    """The engine's propensity clip and the send-time scale use np.minimum / np.maximum and a
    sum over the count instead of np.clip and .mean: the same floats, NaN included."""
    from decision.engine import MIN_PROPENSITY, _propensity

    rng = np.random.default_rng(8)
    p = np.concatenate([rng.random(500), [0.0, -0.0, 1.0, 1e-9, 2.0, np.nan, np.inf, -np.inf]])
    np.testing.assert_array_equal(_propensity(p), np.clip(p, MIN_PROPENSITY, 1.0))
    x = rng.gamma(0.5, 2.0, size=(50, 24))
    scaled = x / (np.add.reduce(x, axis=1, keepdims=True) / 24)
    np.testing.assert_array_equal(scaled, x / x.mean(axis=1, keepdims=True))
    np.testing.assert_array_equal(np.minimum(np.maximum(scaled, 0.01), 0.95), np.clip(scaled, 0.01, 0.95))


def test_coarse_stages_and_segments_follow_the_schema_they_are_given():
    """The stage and segment columns are looked up once per schema: features of another
    vocabulary (other columns) read their own, and the first schema's again after it."""
    from decision.enrich import _SEGMENT_COLUMNS, coarse_stage, segment
    from decision.features import DEFAULT_VOCABULARY, Vocabulary, featurize

    contacts = [
        v.contact.model_copy(update={"lifecycle_stage": s, "job_title": t})
        for v, s, t in zip(
            views(4),
            ["lead", "customer", "opportunity", "marketingqualifiedlead"],
            ["VP Marketing", "CTO", None, "Sales manager"],
            strict=True,
        )
    ]
    vocab = {"wide": DEFAULT_VOCABULARY, "narrow": Vocabulary.of(["software"], ["us"], ["lead", "customer"])}
    expected = {"wide": [0, 3, 2, 1], "narrow": [0, 3, 0, 0]}
    for name in ("wide", "narrow", "wide"):
        F = featurize(contacts, [None] * 4, NOW, vocab=vocab[name])
        assert coarse_stage(F).tolist() == expected[name], name
        by_name = F.raw[:, [F.names.index(c) for c in _SEGMENT_COLUMNS]].argmax(axis=1)
        np.testing.assert_array_equal(segment(F), by_name)


def test_touch_and_size_columns_equal_their_definitions():
    """featurize reads both touch groups in one reduction and both size columns in one log:
    each column still equals its definition, row by row."""
    from decision.features import NEVER_DAYS, featurize

    rng = np.random.default_rng(12)
    kinds = [ActivityType.EMAIL_SENT, ActivityType.CALL, ActivityType.MEETING, ActivityType.PAGE_VIEW]
    batch = []
    for i in range(60):
        acts = [
            Activity(
                contact_id=i + 1,
                type=kinds[int(rng.integers(0, 4))],
                occurred_at=NOW - timedelta(hours=int(rng.integers(-30, 2000))),
                source="test",
                external_id=f"{i}-{k}",
            )
            for k in range(int(rng.integers(0, 5)))
        ]
        c = Contact(
            id=i + 1, company=Company(name="Co", employees=[None, 40, 900][i % 3], annual_revenue=[None, 5e6][i % 2])
        )
        batch.append(ContactView(contact=c, activities=acts))
    engine = EnginePolicy(DecisionSettings.model_validate({"engine": {}}))
    batch = engine._with_profiles(batch, NOW)
    F = featurize([v.contact for v in batch], [v.profile for v in batch], NOW, engine.topics, engine.vocab)
    for i, v in enumerate(batch):
        for group, types in (("marketing", {"email_sent"}), ("sales", {"call", "meeting"})):
            seen = [a.occurred_at for a in v.activities if a.type.value in types and a.occurred_at <= NOW]
            since = min(((NOW - at).total_seconds() / 86_400 for at in seen), default=NEVER_DAYS)
            assert F.column(f"never_{group}_touch")[i] == (not seen)
            assert F.column(f"days_since_{group}_touch")[i] == pytest.approx(since, abs=1e-9)
        emp, rev = v.contact.company.employees or 0.0, v.contact.company.annual_revenue or 0.0
        assert F.X[i, F.position("log_employees")] == np.log1p(np.array([emp]))[0] / 5.0
        assert F.X[i, F.position("log_revenue")] == np.log1p(np.array([rev]))[0] / 10.0


@pytest.mark.parametrize("used", [0, 1, 2, 3])
def test_one_row_within_budget_skips_arbitration_as_it_would_keep_it(used):
    """A lone row's sales choice is kept without running apply_budgets when its owner has
    budget left; with none left, apply_budgets demotes it as before."""
    from decision.arbitration import Budget, apply_budgets

    batch = views(4)
    engine = EnginePolicy(
        DecisionSettings.model_validate(
            {"rules": RULES, "engine": {"holdout_share": 0.0, "sales_handoffs_per_owner_per_day": 2}}
        )
    )
    view = engine._with_profiles(batch[:1], NOW)
    F = engine.features(view, NOW)
    mask = np.ones((1, len(engine.ids)), dtype=bool)
    sales = engine.ids.index(engine.sales[0])
    chosen, prop, notes = np.array([sales]), np.array([0.4]), [""]
    demoted = engine._budgets(view, F, mask, np.array([0]), chosen, prop, notes, {"unassigned": used})
    prio = np.where(mask, engine.model.predict_many(F.X) * engine.values, -np.inf)
    budget = Budget("sales_handoffs", engine.sales, 2, True, {"unassigned": used})
    new, expected = apply_budgets(np.array([sales]), prio, mask, engine.catalog, [budget], ["unassigned"])
    assert demoted.tolist() == expected.tolist() == [used >= 2]
    assert chosen.tolist() == new.tolist()


def test_cached_activity_tags_equal_derived_ones_and_take_lists():
    """Tags are cached by the activity's kind and properties: a cached answer is the derived one,
    unhashable properties are still tagged, and a caller may change the list it gets."""
    from hub.profile import tags

    def act(**props):
        return Activity(
            contact_id=1, type=ActivityType.PAGE_VIEW, occurred_at=NOW, source="t", external_id="e", properties=props
        )

    assert tags(act(page="/case", n="study")) == ["page_view", "topic:business"]  # "case study" across values
    assert tags(act(page="/docs/api")) == ["page_view", "docs", "topic:technical"]
    assert tags(act(page="/docs/api")) == ["page_view", "docs", "topic:technical"]  # from the cache
    assert tags(act(page=["/pricing"], topic="AI")) == ["page_view", "topic:ai"]  # a list: not in the text
    assert tags(act(page="/pricing", topic="AI")) == ["page_view", "pricing", "topic:ai"]
    t = tags(act(page="/blog"))
    t.append("x")  # a caller's list is its own
    assert tags(act(page="/blog")) == ["page_view"]


def test_page_topic_and_rate_columns_equal_their_definitions():
    """featurize gathers every count it reads in one call: the page, topic and e-mail rate
    columns still equal their definitions on the profile's day buckets, row by row."""
    from decision.features import DEFAULT_TOPICS, featurize
    from hub.profile import DAY_SECONDS, build_profile

    rng = np.random.default_rng(13)
    types = [ActivityType.PAGE_VIEW, ActivityType.EMAIL_SENT, ActivityType.EMAIL_OPEN, ActivityType.EMAIL_CLICK]
    pages = ["/pricing", "/docs/api", "/blog/roi", "/webinar", "/"]
    contacts, profiles = [], []
    for i in range(40):
        acts = [
            Activity(
                contact_id=i + 1,
                type=types[int(rng.integers(0, 4))],
                occurred_at=NOW - timedelta(hours=int(rng.integers(0, 2400))),
                source="test",
                external_id=f"{i}-{k}",
                properties={"page": pages[int(rng.integers(0, 5))]},
            )
            for k in range(int(rng.integers(0, 12)))
        ]
        contacts.append(Contact(id=i + 1))
        profiles.append(build_profile(acts, NOW))
    F = featurize(contacts, profiles, NOW)
    today = int(NOW.timestamp() // DAY_SECONDS)

    def count(p, kind, w):
        return sum(c for d, c in p["days"].get(kind, {}).items() if 0 <= today - int(d) < w)

    for i, p in enumerate(profiles):
        for kind in ("pricing", "docs"):
            for w in (7, 30):
                assert F.column(f"{kind}_{w}d")[i] == count(p, kind, w)
        topics = [count(p, f"topic:{t}", 90) for t in DEFAULT_TOPICS]
        for t, n in zip(DEFAULT_TOPICS, topics, strict=True):
            assert F.column(f"topic_{t}")[i] == n / (sum(topics) + 1.0)
        sent = count(p, "email_sent", 90)
        assert F.column("email_open_rate")[i] == count(p, "email_open", 90) / (sent + 1.0)
        assert F.column("email_click_rate")[i] == count(p, "email_click", 90) / (sent + 1.0)
    assert F.column("pricing_30d").any() and F.column("topic_technical").any() and F.column("email_open_rate").any()


def _bench_policy(seed: int = 0, **options) -> tuple[LinearThompson, np.ndarray, np.ndarray]:
    """A trained linear Thompson policy and a 200-row batch with about a third of its pairs
    ineligible, one action eligible on a single row and one on none."""
    rng = np.random.default_rng(seed)
    k, d = 12, 9
    p = LinearThompson(n_actions=k, noise_variance=0.25, seed=seed, **options)
    p.learn_many(rng.normal(size=(600, d)), rng.integers(0, k, 600), rng.normal(size=600))
    X = rng.normal(size=(200, d))
    mask = rng.random((200, k)) < 0.67
    mask[:, 0] = True
    mask[:, 5] = False
    mask[17, 5] = True
    mask[:, 6] = False
    return p, X, mask


def _stacked_widths(p: LinearThompson, X: np.ndarray) -> np.ndarray:
    """Every pair's width as one stacked float32 product (how widths were computed before)."""
    Z = p._design_of(X).astype(np.float32)
    var = np.einsum("knd,nd->nk", np.matmul(Z[None], p.cov_.astype(np.float32)), Z).astype(np.float64)
    return np.sqrt(np.maximum(var, 0.0) * p.noise_variance * p.noise_scale())


def _same_widths(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal up to float32 rounding: BLAS may block a product of fewer rows differently (bit for
    bit with OpenBLAS's Haswell kernels, not with its Zen kernels on AMD EPYC)."""
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)


def test_widths_of_the_eligible_pairs_alone_are_the_stacked_products():
    p, X, mask = _bench_policy(squared_features=[0, 3], learn_noise=True)
    assert len(X) >= p.MASKED_WIDTH_ROWS  # the batch takes the action-by-action path
    expected = _stacked_widths(p, X)
    got = p._width(X, mask)
    _same_widths(got[mask], expected[mask])
    assert (got[~mask] == 0).all()  # ineligible pairs are not computed
    with p.one_batch():  # in a batch scope, a later call for more pairs gets them added
        _same_widths(p._width(X, mask)[mask], expected[mask])
        _same_widths(p._width(X), expected)
        _same_widths(p._width(X, mask), expected)


def _old_choice(p: LinearThompson, X: np.ndarray, mask: np.ndarray):
    """The Thompson choice, propensities and probabilities as computed before: all widths, then
    one argmax per (draw, row)."""
    from decision.policies.base import masked, mc_winners, win_shares

    mean, sd = p._design_of(X) @ p.mean_.T, _stacked_widths(p, X)
    first = mean + sd * p._rng.standard_normal(mean.shape)
    actions = np.argmax(masked(first, mask), axis=1)

    def mc():
        z = p._rng.standard_normal((p.n_draws, 1, p.n_actions), dtype=np.float32)
        sd32 = sd.astype(np.float32)
        return mc_winners(mean, lambda s, e: z[s:e] * sd32, p.n_draws, mask)

    hits = (mc() == actions[None]).sum(axis=0)
    return actions, (hits + 1.0) / (1 + p.n_draws), win_shares(mc(), p.n_actions)


@pytest.mark.parametrize("n", [1, 40, 200])
def test_thompson_batches_decide_and_draw_as_with_every_width_and_argmax(n):
    p, X, mask = _bench_policy(seed=3, squared_features=[1], learn_noise=True, half_life=400.0)
    X, mask = X[:n], mask[:n]
    p._rng = np.random.default_rng(8)
    actions, props, probs = _old_choice(p, X, mask)
    after = p._rng.random()
    p._rng = np.random.default_rng(8)
    c = p.choose_many(X, mask)
    np.testing.assert_array_equal(c.actions, actions)
    np.testing.assert_array_equal(c.propensities, props)
    np.testing.assert_array_equal(p.probabilities_many(X, mask), probs)
    assert p._rng.random() == after


@pytest.mark.parametrize("n", [1, 3, 50, 300])
def test_win_counts_by_elementwise_passes_equal_argmax_counts_ties_included(n):
    """Actions 1 and 2 have the same mean and no width: they tie at every draw where they top
    the row, and the first of them must win, as argmax decides."""
    from decision.policies.base import crn_win_counts, mc_winners

    rng = np.random.default_rng(n)
    k, m = 7, 100
    mean, sd = rng.normal(size=(n, k)), rng.random((n, k))
    mean[:, 2], sd[:, 1:3] = mean[:, 1], 0.0
    mean[: n // 2, 1:3] += 10.0  # the tied pair wins outright on half the rows
    mask = rng.random((n, k)) < 0.7
    mask[:, 1:3] = True
    z = rng.standard_normal((m, k), dtype=np.float32)
    sd32 = sd.astype(np.float32)
    winners = mc_winners(mean, lambda s, e: z[s:e, None] * sd32, m, mask)
    expected = (winners[:, :, None] == np.arange(k)).sum(axis=0)
    got = crn_win_counts(mean, sd, z, mask)
    np.testing.assert_array_equal(got, expected)
    assert (got[: n // 2, 1] == m).all() and (got[:, 2] == 0).all()


def test_one_row_channel_choice_is_its_rows_choice_in_a_batch():
    """Cold rows, clear switches, ties (a switch ratio of 1 on cold rows: every lift equal) and
    rows with no channel allowed: each row alone gets what it gets inside the batch."""
    from decision.channel import ChannelModel

    rng = np.random.default_rng(4)
    n = 300
    touches = rng.integers(0, 6, (n, 4)).astype(float)
    responses = np.minimum(rng.integers(0, 4, (n, 4)), touches).astype(float)
    touches[:20], responses[:20] = 0.0, 0.0  # cold: every lift 1
    allowed = rng.random((n, 4)) < 0.6
    allowed[:20] = True
    allowed[20:30] = False  # nothing allowed
    for ratio in (3.0, 1.0):
        m = ChannelModel(switch_ratio=ratio, population_rate=np.array([0.2, 0.5, 0.25, 0.2]))
        idx, names = m.choose(touches, responses, allowed)
        assert len(set(names)) >= 3 and names[20] == "none"
        assert names[0] == ("email" if ratio > 1 else "direct_mail")  # a tie switches at ratio 1
        for i in range(n):
            one_idx, one_names = m.choose(touches[i : i + 1], responses[i : i + 1], allowed[i : i + 1])
            assert one_idx.tolist() == [idx[i]] and one_names == [names[i]]


def test_the_one_row_apprentice_restriction_is_its_rows_restriction_in_a_batch():
    """Each row's restricted mask alone equals its row in the batch's: mature actions, the
    rules' choice when allowed, everything eligible when neither is left."""
    batch = views(30)
    engine, _ = trained(batch)
    F = engine.features(batch, NOW)
    mask = engine.mask(batch, NOW, F)
    model = engine.model
    rng = np.random.default_rng(2)
    baseline = rng.integers(0, len(engine.ids), len(batch))
    mask[::4, baseline[::4]] = False  # the rules' choice forbidden on some rows
    for min_obs in (230, 10**9):  # some actions mature; none (rows left with nothing but the mask)
        model.min_observations = min_obs
        mature = model.mature(F.X)
        assert mature.any() and not mature.all() if min_obs == 230 else not mature.any()
        allowed, legacy = model._restricted(F.X, mask, baseline)
        for i in range(len(batch)):
            a1, l1 = model._restricted(F.X[i : i + 1], mask[i : i + 1], baseline[i : i + 1])
            np.testing.assert_array_equal(a1[0], allowed[i])
            np.testing.assert_array_equal(l1[0], legacy[i])
    for b in (None, np.array([-1])):
        if b is None:
            a1, _ = model._restricted(F.X[:1], mask[:1], None)
            np.testing.assert_array_equal(a1[0], model._restricted(F.X[:2], mask[:2], None)[0][0])
        else:
            with pytest.raises(DecisionError):
                model._restricted(F.X[:1], mask[:1], b)


def test_a_batch_scope_checks_each_array_once_and_any_other_afresh():
    p, X, mask = _bench_policy()
    Xn = X[:3].copy()
    Xn[1, 2] = np.nan
    with p.one_batch():
        first = p._check_X(Xn)
        assert p._check_X(Xn) is first  # the same array: the same checked rows
        assert first[1, 2] == 0.0 and np.isnan(Xn[1, 2])  # NaN read as 0, the caller's rows untouched
        other = X[3:5]
        assert p._check_X(other) is other  # another array is checked (finite: itself)
        with pytest.raises(DecisionError):
            p._check_X(X[:2, :3])
    assert p._check_X(Xn) is not first  # outside a scope every call checks


def test_one_row_features_are_their_rows_in_a_batch_bit_for_bit():
    """featurize computes a lone row's history columns in Python: each row alone equals its row
    in the batch, with events after ``now`` (today's bucket of a kind seen later is left out),
    exactly at ``now``, beyond 90 days, unknown kinds, empty and missing profiles."""
    from decision.features import featurize
    from hub.profile import build_profile

    rng = np.random.default_rng(21)
    types = list(ActivityType)
    pages = ["/pricing", "/docs/api", "/blog/roi", "/webinar", "/"]
    contacts, profiles = [], []
    for i in range(80):
        acts = [
            Activity(
                contact_id=i + 1,
                type=types[int(rng.integers(0, len(types)))],
                occurred_at=NOW - timedelta(hours=int(rng.integers(-40, 2600))) * (k > 0 or i % 5 != 0),
                source="test",
                external_id=f"{i}-{k}",
                properties={"page": pages[int(rng.integers(0, 5))]},
            )
            for k in range(int(rng.integers(0, 15)))
        ]
        contacts.append(
            Contact(
                id=i + 1, job_title=["VP Sales", None][i % 2], company=Company(name="Co", employees=[None, 300][i % 2])
            )
        )
        profiles.append(build_profile(acts, NOW + timedelta(days=3)) if i % 7 else None)
    profiles[1] = {"days": {"no_such_kind": {"1": 3}}, "last": {"no_such_kind": 5.0}, "total": {}}
    profiles[2] = {}
    F = featurize(contacts, profiles, NOW)
    assert np.isnan(F.raw).sum() == 0 and (F.column("never_sales_touch") == 0).any()
    for i in range(len(contacts)):
        one = featurize([contacts[i]], [profiles[i]], NOW)
        np.testing.assert_array_equal(one.raw[0], F.raw[i])
        np.testing.assert_array_equal(one.X[0], F.X[i])
        assert one.names == F.names and one.version == F.version


def test_one_row_send_instants_are_their_rows_instants_in_a_batch():
    from decision.send_time import next_instants

    rng = np.random.default_rng(5)
    n = 400
    hour = rng.integers(0, 24, n)
    slot = np.where(rng.random(n) < 0.5, rng.integers(0, 168, n), -1)
    offsets = rng.integers(-24, 29, n) * 30  # minutes, half-hour zones too
    for now in (NOW, NOW + timedelta(hours=13, minutes=59), NOW - timedelta(days=3, hours=20, minutes=1)):
        batch = next_instants(now, hour, slot, offsets)
        assert len(set(batch)) > 50
        for i in range(n):
            assert next_instants(now, hour[i : i + 1], slot[i : i + 1], offsets[i : i + 1]) == [batch[i]]


def test_prior_shares_kept_per_prior_equal_fresh_ones_and_follow_new_aggregates():
    """A model started from a learned prior reuses each segment's shares row: bit for bit the
    rows a model without any kept rows computes, for one row and for a batch, and recomputed
    once fitting or a new prior replaces the aggregates, or a prior setting changes."""
    from decision.send_time import SendTimeModel

    rng = np.random.default_rng(8)
    day = rng.poisson(0.4, (60, 168)).astype(float)
    seg = rng.integers(0, 5, 60)
    prior = SendTimeModel(seed=1).fit(day, seg)
    model = SendTimeModel(seed=2)

    def fresh(m: SendTimeModel, segments: np.ndarray) -> np.ndarray:
        other = SendTimeModel(segment_strength=m.segment_strength).load_prior(m.prior())
        other.population_counts, other.segment_counts = m.population_counts, dict(m.segment_counts)
        return other.prior_shares(segments)

    batch_seg = np.array([0, 3, 3, 7, 1])  # 7: a segment the prior never saw
    for _ in range(2):  # a decision, then the next one reading the kept rows
        model.restart(5).load_prior(prior)
        np.testing.assert_array_equal(model.prior_shares(batch_seg), fresh(model, batch_seg))
        for s in batch_seg:
            np.testing.assert_array_equal(model.prior_shares(np.array([s])), fresh(model, np.array([s])))
    kept = model.prior_shares(np.array([3]))
    model.fit(day[:5], np.full(5, 3))  # new aggregates: rows recomputed
    moved = model.prior_shares(np.array([3]))
    assert not np.array_equal(moved, kept)
    np.testing.assert_array_equal(model.prior_shares(batch_seg), fresh(model, batch_seg))  # every row: a new population
    model.segment_counts[1] = model.segment_counts[1] * 2.0  # one segment's counts replaced, the population kept
    np.testing.assert_array_equal(model.prior_shares(batch_seg), fresh(model, batch_seg))
    model.restart(5).load_prior(prior)
    model.segment_strength = 5.0  # a prior setting: rows recomputed
    np.testing.assert_array_equal(model.prior_shares(batch_seg), fresh(model, batch_seg))
    assert not np.array_equal(model.prior_shares(np.array([3])), kept)


def test_the_draw_alone_takes_the_choices_actions_and_moves_the_stream_alike():
    """``_draw`` leaves out the Monte-Carlo propensities the mixed choice never reads: the
    same actions as ``_choose`` and the same random stream after it (every later draw alike)."""
    p, X, mask = _bench_policy(seed=5, squared_features=[1], learn_noise=True)
    for n in (1, 3, 200):
        p._rng = np.random.default_rng(n)
        actions, _ = p._choose(X[:n], mask[:n])
        after = p._rng.random()
        p._rng = np.random.default_rng(n)
        np.testing.assert_array_equal(p._draw(X[:n], mask[:n]), actions)
        assert p._rng.random() == after


def test_one_row_stages_and_segments_are_their_rows_in_a_batch():
    from decision.enrich import coarse_stage, segment
    from decision.features import featurize

    stages = ["lead", "customer", "opportunity", "marketingqualifiedlead", None, "evangelist", "other"]
    titles = ["VP Marketing", "CTO", None, "Sales manager", "Engineer", "Head of HR", ""]
    contacts = [Contact(id=i + 1, lifecycle_stage=stages[i % 7], job_title=titles[(i * 3) % 7]) for i in range(21)]
    F = featurize(contacts, [None] * 21, NOW)
    batch_stage, batch_segment = coarse_stage(F), segment(F)
    assert len(set(batch_stage.tolist())) == 4 and len(set(batch_segment.tolist())) >= 4
    for i in range(21):
        one = F.subset(np.array([i]))
        assert coarse_stage(one).tolist() == [batch_stage[i]] and coarse_stage(one).dtype == batch_stage.dtype
        assert segment(one).tolist() == [batch_segment[i]]
    both = F.subset(np.array([0, 1]))
    both.raw[0, [F.position("stage_lead"), F.position("stage_customer")]] = 1.0  # several set: the last wins
    single = F.subset(np.array([0]))
    single.raw[0] = both.raw[0]
    assert coarse_stage(single).tolist() == [coarse_stage(both)[0]] == [3]


def test_one_row_long_term_value_and_routing_are_their_rows_in_a_batch():
    """value, reranked_draws and route compute a lone row on Python floats: bit for bit its row
    in a batch, NaN rows included (they take numpy's path)."""
    from decision.long_term import LongTermValue, reranked_draws, route

    rng = np.random.default_rng(14)
    n, k = 300, 6
    # the posterior mean (evidence_z 0): learned from 500 rows most would not clear two standard errors
    lt = LongTermValue(k, 4, prior_lift=rng.normal(0.0, 0.02, (k, 4)), wait_action=0, evidence_z=0.0)
    lt.learn(rng.integers(0, k, 500), rng.integers(0, 4, 500), (rng.random(500) < 0.1).astype(float), 0)
    p0, stages, deal = rng.random(n) * 0.2, rng.integers(0, 4, n), rng.gamma(2.0, 1.0, n)
    p0[:3], deal[3] = [0.0, 1.0, np.nan], np.nan
    value = lt.value(p0, stages, deal)
    short = rng.normal(size=(n, k))
    long_term = value * 40.0
    mask = rng.random((n, k)) < 0.7
    mask[:, 0] = True
    short[5, 2], short[6, :] = np.nan, short[6, 0]  # a NaN score; a row of ties
    final = reranked_draws(short, long_term, mask, 0.3)
    probs = rng.dirichlet(np.ones(k), n) * mask
    probs /= probs.sum(axis=1, keepdims=True)
    routed = route(probs, final)
    assert (final != np.arange(k)).any()
    for i in range(n):
        r = slice(i, i + 1)
        np.testing.assert_array_equal(lt.value(p0[r], stages[r], deal[r]), value[r])
        np.testing.assert_array_equal(reranked_draws(short[r], long_term[r], mask[r], 0.3), final[r])
        np.testing.assert_array_equal(route(probs[r], final[r]), routed[r])


def test_phrases_kept_by_value_are_the_phrases_worked_out_afresh():
    from decision.explain import _phrase, phrase

    cases = [("pricing_7d", 3.0), ("log_employees", 0.0), ("pricing_7d", -0.0), ("pricing_7d", 0.0)]
    cases += [("topic_ai", 0.25), ("days_since_page_view", 400.0), ("x", float("nan")), ("pricing_7d", 3)]
    fresh = [_phrase.__wrapped__(name, v, False) for name, v in cases]
    for _ in range(2):  # the second round reads the kept words
        assert [phrase(name, v) for name, v in cases] == fresh
    assert phrase("pricing_7d", -0.0) != phrase("pricing_7d", 0.0)  # "-0 times" is kept apart


def test_a_send_time_posterior_without_opens_skips_a_term_that_is_exactly_zero():
    """Rows with no opens and no sends add nothing through the open-rate term: a batch of such
    rows (which skips it) gets what they get beside a row with opens (which computes it for
    every row), up to the rounding of a product of another row count (BLAS kernels differ)."""
    from decision.send_time import SendTimeModel

    rng = np.random.default_rng(6)
    n = 40
    local = rng.poisson(0.2, (n, 168)).astype(float)
    opens, sends = rng.poisson(0.05, (n, 168)).astype(float), rng.poisson(0.1, (n, 168)).astype(float)
    opens[1:], sends[1:] = 0.0, 0.0
    seg = rng.integers(0, 3, n)
    model = SendTimeModel(seed=2).fit(local, seg)
    with_term = model.posterior(local, seg, opens, sends)
    skipped = model.posterior(local[1:], seg[1:], opens[1:], sends[1:])
    np.testing.assert_allclose(skipped, with_term[1:], rtol=1e-12, atol=0)
    assert not np.array_equal(with_term[0], model.posterior(local[:1], seg[:1]))  # the term moves a row with opens


def test_one_row_content_draws_are_the_bandits_one_row_draws():
    slots = ContentSlots({"subject": ["a", "b", "c"], "cta": ["x", "y"]}, seed=3)
    twin = ContentSlots({"subject": ["a", "b", "c"], "cta": ["x", "y"]}, seed=3)
    for s in (slots, twin):
        s.learn("subject", ["a", "b", "c"] * 20, [1.0, 0.0, 0.0] * 20)
    for _ in range(30):
        got = slots.choose(1)
        expected = {
            "content_subject": [["a", "b", "c"][int(twin.bandits["subject"].thompson_draw(1)[0])]],
            "content_cta": [["x", "y"][int(twin.bandits["cta"].thompson_draw(1)[0])]],
        }
        assert got == expected


def test_one_row_eligibility_is_its_row_in_a_batch():
    """Opt-outs, do-not-contact, touch caps, quiet periods (NaN: never touched) and the rules'
    mask: each row alone gets the mask it gets inside the batch, wait always allowed."""
    from decision.arbitration import ActionSpec, Catalog, ContactPolicy, eligibility

    catalog = Catalog(
        (
            ActionSpec("nurture", "email", True),
            ActionSpec("wait", value=0.0),
            ActionSpec("call", "sales_call", False),
            ActionSpec("ad", "ad_audience", True),
            ActionSpec("note", "email", False),
        )
    )
    rng = np.random.default_rng(15)
    n = 300
    base = rng.random((n, 5)) < 0.8
    opt_out, dnc = rng.random(n) < 0.3, rng.random(n) < 0.1
    touches = rng.integers(0, 5, n).astype(float)
    since = np.where(rng.random(n) < 0.4, np.nan, rng.random(n) * 6)
    policy = ContactPolicy(max_marketing_touches_7d=3, sales_quiet_days=3.0)

    def allowed(rows: slice) -> np.ndarray:
        return eligibility(
            catalog,
            len(base[rows]),
            base_mask=base[rows],
            email_opt_out=opt_out[rows],
            do_not_contact=dnc[rows],
            marketing_touches_7d=touches[rows],
            days_since_sales_touch=since[rows],
            contact_policy=policy,
        )

    batch = allowed(slice(None))
    assert 0.2 < batch.mean() < 0.8 and batch[:, 1].all()
    for i in range(n):
        one = allowed(slice(i, i + 1))
        np.testing.assert_array_equal(one, batch[i : i + 1])
        assert one.dtype == batch.dtype


def test_one_row_channel_counts_allowed_channels_and_fit_are_their_batch_forms():
    """A lone row's counts, allowed channels and population-rate update on Python floats equal
    the batch forms: its row in a batch, and the batch fit of that one row (NaN: numpy's path)."""
    from decision.channel import ACTION_CHANNELS, ChannelModel, _clean, allowed_channels, channel_counts

    rng = np.random.default_rng(17)
    kinds = ["email_sent", "email_open", "email_click", "call", "meeting", "ad_impression", "ad_click", "direct_mail"]
    profiles = [{"total": {k: int(rng.integers(0, 4)) for k in kinds if rng.random() < 0.6}} for _ in range(60)]
    profiles[:2] = [None, {}]
    channels = [list(ACTION_CHANNELS)[i % len(ACTION_CHANNELS)] for i in range(60)] + ["none"]
    opt_out, dnc = rng.random(61) < 0.3, rng.random(61) < 0.1
    touches, responses = channel_counts(profiles)
    allowed = allowed_channels(channels, opt_out, dnc)
    assert touches.any() and allowed.any() and not allowed.all()
    for i in range(60):
        one_t, one_r = channel_counts(profiles[i : i + 1])
        np.testing.assert_array_equal(one_t, touches[i : i + 1])
        np.testing.assert_array_equal(one_r, responses[i : i + 1])
    for i in range(61):
        np.testing.assert_array_equal(
            allowed_channels(channels[i : i + 1], opt_out[i : i + 1], dnc[i : i + 1]), allowed[i : i + 1]
        )
    model = ChannelModel(population_rate=np.array([0.2, 0.5, 0.25, 0.2]))
    rate = model.population_rate.copy()
    for i in range(60):
        t, r = touches[i : i + 1] - (i % 5 == 0), responses[i : i + 1] * 1.5  # some negative, some above the touches
        if i == 7:
            t[0, 1] = np.nan
        model.fit(t, r)
        ct, cr = _clean(t, r)  # the batch formula on this one row
        rate = (cr.sum(0) + 10 * rate) / (ct.sum(0) + 10)
        np.testing.assert_array_equal(model.population_rate, rate)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_few_contacts_channels_from_their_profiles_are_the_array_steps_choices(n):
    """fit_choose_rows (a real-time batch's counts, fit, allowed channels and choices on Python
    numbers) names the channels, and leaves the population rate, the array steps do."""
    from decision.channel import ACTION_CHANNELS, ChannelModel, allowed_channels, channel_counts

    rng = np.random.default_rng(19)
    kinds = ["email_sent", "email_open", "email_click", "call", "meeting", "ad_impression", "ad_click", "direct_mail"]
    fast, arrays = ChannelModel(switch_ratio=1.5), ChannelModel(switch_ratio=1.5)
    names = set()
    for i in range(0, 200 * n, n):
        profiles = [
            {"total": {k: int(rng.integers(0, 6)) for k in kinds if rng.random() < 0.6}} if (i + j) % 9 else None
            for j in range(n)
        ]
        channels = [[*ACTION_CHANNELS, "none"][(i + j) % (len(ACTION_CHANNELS) + 1)] for j in range(n)]
        opt_out, dnc = (rng.random(n) < 0.3).tolist(), (rng.random(n) < 0.1).tolist()
        t, r = channel_counts(profiles)
        arrays.fit(t, r)
        want = arrays.choose(t, r, allowed_channels(channels, opt_out, dnc))[1]
        assert fast.fit_choose_rows(profiles, channels, opt_out, dnc) == want
        np.testing.assert_array_equal(fast.population_rate, arrays.population_rate)
        names.update(want)
    assert {"none", "email", "sales_call", "ad_audience"} <= names


@pytest.mark.parametrize("n", [1, 30, 200])
@pytest.mark.parametrize("share", [0.1, 0.0])
def test_the_mixed_choice_without_free_rows_draws_as_its_four_calls(n, share):
    """With no free row, the linear Thompson mixture draws its three blocks of normals in one
    call and reads the means once: the same actions, probabilities and random stream as the
    apprentice's choice followed by both probabilities (one row, a batch, the masked-width path)."""
    p, X, mask = _bench_policy(squared_features=[0, 3], learn_noise=True)
    X, mask = X[:n], mask[:n]
    mask[~mask.any(axis=1), 0] = True
    model = Apprentice(p, min_observations=45)
    baseline = np.arange(n) % p.n_actions
    free = np.zeros(n, dtype=bool)
    p._rng = np.random.default_rng(11)
    with model._one_batch():
        actions = model.choose_many(X, mask, baseline=baseline).actions
        probs = (1 - share) * model.probabilities_many(X, mask, baseline=baseline)
        if share > 0:
            probs = probs + share * p.probabilities_many(X, mask)
    after = p._rng.random()
    p._rng = np.random.default_rng(11)
    with model._one_batch():
        got_actions, got_probs = model.choose_mixed(X, mask, baseline, free, share)
    np.testing.assert_array_equal(got_actions, actions)
    np.testing.assert_array_equal(got_probs, probs)
    assert p._rng.random() == after


def test_one_row_send_time_paths_equal_the_batch_ones():
    """A real-time row's rotation into local time, kept log prior and Thompson centre (Python
    floats) are bit for bit what the same row gets inside a batch."""
    from decision.send_time import SendTimeModel, to_local

    rng = np.random.default_rng(13)
    n = 25
    counts = rng.poisson(0.1, (3, n, 168)).astype(float)  # below the weekly threshold
    off = rng.integers(-22, 27, n) * 30  # minutes, half-hour zones too
    local = to_local(counts, off)
    seg = rng.integers(0, 4, n)
    prior = SendTimeModel(seed=1).fit(local[0], seg)
    model = SendTimeModel(seed=4).load_prior(prior)
    for i in range(n):
        np.testing.assert_array_equal(to_local(counts[:, i : i + 1], off[i : i + 1]), local[:, i : i + 1])
        np.testing.assert_array_equal(model.log_prior(seg[i : i + 1]), model.log_prior(seg)[i : i + 1])
    # contacts without activity: their posteriors are the segment priors, the same floats in a
    # batch as alone (with activity, BLAS sums one row's product in another order than a batch's)
    none = np.zeros((n, 168))
    batch = model.restart(9).load_prior(prior).choose(none, seg, NOW, off)
    again = model.restart(9).load_prior(prior)
    ones = [again.choose(none[i : i + 1], seg[i : i + 1], NOW, off[i : i + 1]) for i in range(n)]
    assert len(set(batch.hour.tolist())) > 1  # the draws spread the rows over several hours
    # one row at a time draws each row's centre from the stream in turn, as the batch does
    np.testing.assert_array_equal(np.concatenate([c.hour for c in ones]), batch.hour)
    assert [c.field_value[0] for c in ones] == batch.field_value


def test_one_row_weekly_send_time_draws_and_picks_as_the_array_path():
    """A real-time row with a week's worth of activity (the Python path) draws the centre and
    the weekday jitter from the stream as the array path does, and sends on the weekday most
    active at its hour; hours pass quiet hours as the array argmax does."""
    from decision.send_time import _HOURS, SendTimeModel, _allowed

    rng = np.random.default_rng(5)
    for seed in range(20):
        counts = rng.poisson(0.4, (1, 168)).astype(float)  # about 67 events: weekly
        model = SendTimeModel(seed=seed).fit(counts, np.array([0]))
        twin = np.random.default_rng(0)
        twin.bit_generator.state = model._rng.bit_generator.state
        c = model.choose(counts, np.array([0]), NOW, np.array([2]), np.array([True]))
        u, jitter = twin.random((1, 1)), twin.random((1, 7))
        assert model._rng.random() == twin.random()  # the same draws, in the same order
        hour = int(c.hour[0])
        assert c.weekly.tolist() == [True] and _allowed(6, 21)[hour] and 0 <= u[0, 0] < 1
        day_counts = counts[0, _HOURS[hour::24]] + jitter[0] * 1e-6
        assert int(c.slot[0]) == int(np.argmax(day_counts)) * 24 + hour


def test_few_row_segments_are_the_batch_segments():
    """A real-time row's (or a few rows') segment (Python argmax and integer steps) is the one the array path
    gives it inside a batch: stages, roles, touch levels and consent of every kind."""
    from hub.models import Consent

    batch = views(24, seed=3)
    stages = ["lead", "customer", "opportunity", "marketingqualifiedlead", None, "subscriber"]
    titles = ["VP Marketing", "CTO", None, "Sales manager", "Engineer", "Head of Finance"]
    batch = [
        replace(
            v,
            contact=v.contact.model_copy(
                update={
                    "lifecycle_stage": stages[i % 6],
                    "job_title": titles[(i // 2) % 6],
                    "consent": Consent(email_opt_out=i % 4 == 1, do_not_contact=i % 5 == 2),
                }
            ),
        )
        for i, v in enumerate(batch)
    ]
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": RULES}))
    F = engine.features(batch, NOW)
    touches = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 7.5, 2.5, 0.4] * 3)
    expected = engine.segment_step.segments(batch, F, touches)
    assert len(set(expected.tolist())) > 8
    for i in range(len(batch)):
        one = engine.segment_step.segments([batch[i]], F.subset(np.array([i])), touches[i : i + 1])
        assert one.tolist() == [expected[i]], i
    for i in range(0, len(batch), 3):  # a few rows at once (a real-time batch)
        rows = np.arange(i, i + 3)
        few = engine.segment_step.segments([batch[j] for j in rows], F.subset(rows), touches[rows])
        np.testing.assert_array_equal(few, expected[rows])


def test_few_row_masks_are_the_batch_masks():
    """A real-time row's (or a few rows') mask (Python booleans) and the parts the trace reads are what the
    array path gives it inside a batch: consent, touch caps from e-mails sent and ordered,
    and the quiet period after a sales touch, synced or only ordered."""
    from hub.models import Consent

    base = views(30, seed=6)
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": RULES}))
    email = next(a.id for a in engine.entries if a.kind == "email")
    sales = next(a.id for a in engine.entries if a.kind == "sales_outreach")
    batch = []
    for i, v in enumerate(base):
        sent = [
            Activity(
                contact_id=v.contact.id,
                type=ActivityType.EMAIL_SENT,
                occurred_at=NOW - timedelta(days=1 + k),
                source="test",
                external_id=f"s{i}-{k}",
            )
            for k in range(i % 5)
        ]
        decided = [(NOW - timedelta(days=0.5 + i % 4), sales)] if i % 3 == 0 else [(NOW - timedelta(hours=5), email)]
        consent = Consent(email_opt_out=i % 7 == 3, do_not_contact=i % 11 == 5)
        batch.append(
            replace(
                v,
                contact=v.contact.model_copy(update={"consent": consent}),
                activities=v.activities + sent,
                decided=decided,
            )
        )
    F = engine.features(batch, NOW)
    parts: dict = {}
    mask = engine.mask(batch, NOW, F, parts)
    assert 0 < mask.sum() < mask.size and len({tuple(r) for r in mask.tolist()}) > 3
    for i in range(len(batch)):
        one_parts: dict = {}
        one = engine.mask([batch[i]], NOW, F.subset(np.array([i])), one_parts)
        np.testing.assert_array_equal(one, mask[i : i + 1])
        for key in ("rule", "touches", "since_sales", "felt"):
            np.testing.assert_array_equal(one_parts[key], parts[key][i : i + 1])
    for i in range(0, len(batch), 4):  # a few rows at once (a real-time batch): the same rows
        rows = np.arange(i, min(i + 4, len(batch)))
        few_parts: dict = {}
        np.testing.assert_array_equal(engine.mask([batch[j] for j in rows], NOW, F.subset(rows), few_parts), mask[rows])
        np.testing.assert_array_equal(few_parts["rule"], parts["rule"][rows])


def test_one_row_long_term_overrules_and_propensities_are_the_batch_ones():
    """The long-term rerank of a real-time row (its scalars, no index arrays) overrules,
    explains and routes propensities as the array path does for that row in a batch."""
    batch = views(40, seed=9)
    engine, _ = trained(batch)
    engine.settings.engine.long_term_weight = 0.9
    F = engine.features(batch, NOW)
    mask = engine.mask(batch, NOW, F)
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(len(engine.ids)), len(batch)) * mask
    probs /= probs.sum(axis=1, keepdims=True)
    drawn = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
    demoted = np.arange(len(batch)) % 9 == 4
    arms = np.full(len(batch), "engine")
    p_convert = points_probability(rng.uniform(0, 60, len(batch)))
    rows = np.arange(len(batch))
    chosen, prop, notes = drawn.copy(), np.ones(len(batch)), [""] * len(batch)
    engine._long_term(batch, NOW, F, mask, rows, chosen, prop, notes, probs, demoted, arms, p_convert)
    assert (chosen != drawn).any() and (chosen == drawn).any()
    for i in range(len(batch)):
        one = [drawn[i : i + 1].copy(), np.ones(1), [""]]
        Fi, r = F.subset(np.array([i])), np.array([0])
        engine._long_term(
            [batch[i]],
            NOW,
            Fi,
            mask[i : i + 1],
            r,
            *one,
            probs[i : i + 1],
            demoted[i : i + 1],
            arms[:1],
            p_convert[i : i + 1],
        )
        assert (int(one[0][0]), float(one[1][0]), one[2][0]) == (int(chosen[i]), float(prop[i]), notes[i]), i


@pytest.mark.parametrize("used", [{}, {"ann": 1}, {"ann": 2, "bob": 1}, {"bob": 2}])
def test_a_few_rows_within_budget_skip_arbitration_as_it_would_keep_them(used):
    """A real-time batch whose owners' handoffs all fit their budgets is kept without running
    apply_budgets; once one owner's do not, apply_budgets demotes as before."""
    from decision.arbitration import Budget, apply_budgets

    engine = EnginePolicy(
        DecisionSettings.model_validate(
            {"rules": RULES, "engine": {"holdout_share": 0.0, "sales_handoffs_per_owner_per_day": 2}}
        )
    )
    owners = ["ann", "ann", "bob", None]
    batch = [
        replace(v, contact=v.contact.model_copy(update={"owner": o})) for v, o in zip(views(4), owners, strict=True)
    ]
    batch = engine._with_profiles(batch, NOW)
    F = engine.features(batch, NOW)
    mask = np.ones((4, len(engine.ids)), dtype=bool)
    sales = engine.ids.index(engine.sales[0])
    chosen = np.array([sales, sales, sales, engine.wait_index])
    prop, notes = np.full(4, 0.4), [""] * 4
    prio = np.where(mask, engine.model.predict_many(F.X) * engine.values, -np.inf)
    budget = Budget("sales_handoffs", engine.sales, 2, True, used)
    keys = [o or "unassigned" for o in owners]
    new, expected = apply_budgets(chosen.copy(), prio, mask, engine.catalog, [budget], keys)
    demoted = engine._budgets(batch, F, mask, np.arange(4), chosen, prop, notes, used)
    assert demoted.tolist() == expected.tolist()
    assert chosen.tolist() == new.tolist()
    assert demoted.any() == (used.get("ann", 0) > 0 or used.get("bob", 0) > 1)
