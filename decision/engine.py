"""The learning engine behind ``decision.interface.Policy``: arms, eligibility, bandit, budgets.

Per batch, vectorized:

1. Arms by :func:`decision.experiment.assign_arms` on the contact id: ``holdout`` contacts get
   the legacy rules' decision, ``control`` contacts get nothing, ``engine`` contacts get the
   bandit; the impact arms (hub.yaml ``experiments``) get a random eligible action
   (``random``) or the engine with one component off (``no_<component>``, see ``ARM_NOTES``).
   Every arm's decision logs its features, so all of them feed learning and the
   reward-by-arm comparison (hub/reports/impact.py).
2. The legacy rules run for every contact: their ``next_best_action`` (mapped onto the catalog,
   ``wait`` when none) is the apprentice's baseline.
3. The mask: each action's ``eligible`` expression, then :func:`decision.arbitration.eligibility`
   (consent, do-not-contact, touch cap, quiet period after a sales touch).
4. The bandit, wrapped in :class:`~decision.policies.Apprentice`, chooses inside the mask. A
   share ``explore_share`` of engine rows is free of the apprentice restriction, so actions the
   rules never pick still gather the evidence that lets them mature. With no rules, actions the
   engine has barely measured (a warm start's log never tried them, or they are new) wait for
   that share. The logged propensity is the mixture's probability of the action taken.
   Then segment values (decision/segment_step.py, ``segment_values``), once learned, choose for
   the engine's own rows by Thompson draws from what each action has earned in the contact's
   segment, shrunk toward the bandit's prediction, among the actions with evidence (in the
   bandit or the segment) and the rules' choice, ``explore_share`` of the draws free; the
   logged propensity is their share of the action taken and the explanation names it
   ("segment value: ..."). Segments count the touches a contact felt in 7 days, e-mails and
   sales calls (decision/segment_step.py ``felt_touches``); the touch cap counts e-mails.
5. Budgets: sales handoffs per owner per day go to the rows with the highest predicted value
   across the batch; the rest fall back to their best remaining action (propensity 1, the
   choice is arbitration's, and the explanation says so).
6. Long-term value (decision/long_term.py): where the bandit's choice lowers the contact's
   chance of eventually converting and the blend (``long_term_weight``) prefers another action,
   arbitration overrules it (propensity 1) and the explanation says why in words.
7. Extras (decision/enrich.py): best send time, best channel, content slot variants, lead score,
   conversion probability and expected value are pushed with the engine's decisions.

The policy never touches the store: the pipeline hands it profiles, budget usage and model
snapshots (hub/pipeline/learn.py).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from decision.arbitration import (
    ActionSpec,
    Budget,
    Catalog,
    ContactPolicy,
    apply_budgets,
    eligibility,
    eligible_row,
)
from decision.context import expression_env
from decision.declared.spec import PREFIX as DECLARED_PREFIX
from decision.declared.spec import DeclaredSpec
from decision.enrich import DEFAULT_DEAL_VALUE, DecisionExtras, coarse_stage, profile_points
from decision.experiment import CONTROL, ENGINE_ARMS, HOLDOUT, RANDOM, ablation_arm, assign_arms
from decision.explain import phrase, top_factors
from decision.features import (
    NEVER_DAYS,
    Features,
    Vocabulary,
    feature_names,
    feature_version,
    featurize,
    numeric_columns,
)
from decision.graduation import Graduation
from decision.interface import FEW_ROWS, ContactView
from decision.long_term import (
    COARSE_STAGES,
    KIND_PRIOR_LIFT,
    LongTermValue,
    explain_long_term,
    reranked_draws,
    route,
    routed_probabilities,
)
from decision.policies import Apprentice, EpsilonGreedy, LinearThompson, LinUCB, Policy, load_bundle, save_bundle
from decision.risk import OptOutRisk, channel_groups
from decision.rules import RulesPolicy
from decision.scoring.points import points_probability
from decision.segment_step import FELT_ACTION_KINDS, MAIL_ACTION_KINDS, SegmentStep, felt_touches
from hub.config import CatalogEntry, DecisionSettings, EngineSettings
from hub.errors import DecisionError
from hub.expressions import Expression
from hub.fields import clip_text
from hub.models import Action, ActionKind, Consent, Decision
from hub.profile import build_profile

MIN_PROPENSITY = 1e-3
#: characters of the plain-words reason written to the CRM
REASON_MAX = 500
#: ablation arms and random-control rows: what each switches off, said in their explanations
NO_PRIOR, NO_LONG_TERM, NO_SEND_TIME, NO_CONTENT, NO_OPT_OUT = (
    ablation_arm(c) for c in ("learned_propensities", "long_term_value", "send_time", "content", "opt_out_model")
)
ARM_NOTES = {
    RANDOM: "Random-control arm: an eligible action drawn at random, to measure what choosing earns",
    NO_PRIOR: "Impact arm without learned propensities: the bandit's prior chooses",
    NO_LONG_TERM: "Impact arm without long-term value",
    NO_SEND_TIME: "Impact arm without send-time optimisation",
    NO_CONTENT: "Impact arm without content optimisation",
    NO_OPT_OUT: "Impact arm without the opt-out model",
}


def _take(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]`` for sorted distinct row indices; ``a`` itself when they are all of its rows
    (a real-time decision's one row): no copy, and the bandit's batch scope knows the array."""
    return a if len(rows) == len(a) else a[rows]


def _among(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``np.isin(values, names)`` for a few names, without its sort (ten times dearer on the one
    row of a real-time decision)."""
    names = frozenset(names)
    return np.array([v in names for v in values.tolist()], dtype=bool)


#: the arms whose action the engine chooses, for membership tests per row
_ENGINE_ARMS = frozenset(ENGINE_ARMS)


def _ones(n: int) -> np.ndarray:
    """``np.ones(n)`` without its Python wrapper (which costs more than a one-row array)."""
    out = np.empty(n)
    out.fill(1.0)
    return out


def _maximum(a: float, b: float) -> float:
    """``np.maximum`` of two floats (``a`` on a tie, NaN when either is)."""
    return a if a >= b or a != a else b


def _minimum(a: float, b: float) -> float:
    """``np.minimum`` of two floats (``a`` on a tie, NaN when either is)."""
    return a if a <= b or a != a else b


def _propensity(p: np.ndarray) -> np.ndarray:
    """``np.clip(p, MIN_PROPENSITY, 1.0)`` without its Python wrappers (bounds above zero, so no
    signed-zero difference; NaN stays NaN in both)."""
    return np.minimum(np.maximum(p, MIN_PROPENSITY), 1.0)


def _rounded(values: list[float]) -> list[float | None]:
    """Each value to 4 decimals, None for NaN (the trace's scores and probabilities)."""
    return [None if v != v else round(v, 4) for v in values]


def _propensity_of(p: float) -> float:
    """:func:`_propensity` of one float."""
    return _minimum(_maximum(p, MIN_PROPENSITY), 1.0)


def build_bandit(settings: DecisionSettings, squared_columns: Sequence[int] | None = None) -> Policy:
    """The engine's bandit. ``squared_columns``: the count-like feature columns that get a
    squared term when ``squared_features`` is on (None: every column)."""
    return engine_bandit(settings.engine, len(settings.actions), squared_columns)


def engine_bandit(e: EngineSettings, k: int, squared_columns: Sequence[int] | None = None) -> Policy:
    """:func:`build_bandit` for ``k`` actions from the engine settings alone (offline learning
    on a table has no catalog: decision/offline/learn.py)."""
    squared: bool | list[int] = e.squared_features
    if e.squared_features and squared_columns is not None:
        squared = [int(j) for j in squared_columns]
    linear = {"seed": e.seed, "half_life": e.half_life, "learn_noise": e.learn_noise, "squared_features": squared}
    if e.bandit == "linucb":
        inner: Policy = LinUCB(n_actions=k, alpha=e.exploration, **linear)
    elif e.bandit == "epsilon_greedy":
        inner = EpsilonGreedy(n_actions=k, epsilon=min(1.0, e.exploration), seed=e.seed)
    else:
        inner = LinearThompson(n_actions=k, exploration=e.exploration, **linear)
    return Apprentice(inner, min_observations=e.apprentice_min_observations)


def build_opt_out(
    settings: DecisionSettings, actions: Sequence[Any], squared_columns: Sequence[int] | None = None
) -> tuple[np.ndarray, OptOutRisk | None]:
    """Each action's channel group and the pooled opt-out model (None when ``opt_out_model`` is
    off); ``actions`` need ``kind`` and ``channel``, ``squared_columns`` as for :func:`build_bandit`."""
    e = settings.engine
    groups, channels = channel_groups([None if a.kind == "wait" else a.channel for a in actions])
    if not e.opt_out_model:
        return groups, None
    squared: bool | list[int] = e.squared_features
    if e.squared_features and squared_columns is not None:
        squared = [int(j) for j in squared_columns]
    return groups, OptOutRisk(len(channels), squared_features=squared, half_life=e.half_life, seed=e.seed)


#: the note of an engine row that took the legacy rules' action (the apprentice while cold)
_FOLLOWING = "Following the legacy rules while the engine gathers evidence"


class EnginePolicy:
    """``decide(batch, now)`` for the pipeline; ``learn`` / ``snapshot`` / ``load_model`` for the learner."""

    name = "engine"
    needs_profiles = True

    def __init__(self, settings: DecisionSettings):
        self.settings = settings
        self.entries: list[CatalogEntry] = list(settings.actions)
        self.ids = [a.id for a in self.entries]
        wait = next(a.id for a in self.entries if a.kind == "wait")
        self.catalog = Catalog(
            tuple(
                ActionSpec(
                    a.id,
                    channel=None if a.kind == "wait" else a.channel,
                    marketing=a.marketing,
                    value=a.value,
                )
                for a in self.entries
            ),
            wait=wait,
        )
        self.wait_index = self.ids.index(wait)
        self.sales = tuple(a.id for a in self.entries if a.kind == "sales_outreach")
        #: (k,) the sales actions (every decision reads them)
        self._is_sales = self.catalog.flags(self.sales) if self.sales else np.zeros(len(self.ids), dtype=bool)
        self._sales_flags = self._is_sales.tolist()  # the same as Python booleans, for one row
        #: the actions that send an e-mail: the hub's own orders the touch cap counts, as it counts
        #: ``email_sent`` activities (an ad audience is marketing, but no e-mail and no touch)
        self._mail_ids = frozenset(a.id for a in self.entries if a.kind in MAIL_ACTION_KINDS)
        self.values = np.array([a.value for a in self.entries])
        self.topics = tuple(sorted({a.topic for a in self.entries if a.topic not in ("none", "")}))
        fv = settings.engine.features
        self.vocab = Vocabulary.of(fv.industries, fv.countries, fv.lifecycle_stages)
        self.builtin_version = feature_version(self.topics, self.vocab)
        #: declared columns (hub.yaml ``decision.features``), appended after the built-in ones;
        #: fitted on the store's contacts before the first decision (:meth:`bind_features`)
        self.declared: DeclaredSpec | None = DeclaredSpec(settings.features) if settings.features else None
        self.rules = RulesPolicy(settings.rules)
        #: each rule's catalog action (its ``next_best_action``; ``wait`` when it names none),
        #: then ``wait`` for "no rule matched": the apprentice's baseline, read per row
        self._rule_baseline = [self._baseline_of(self.rules.actions(r)) for r in range(len(settings.rules))]
        self._rule_baseline.append(self.wait_index)
        #: each distinct ``eligible`` expression once (most actions share one), and which one each action reads
        sources = list(dict.fromkeys(a.eligible for a in self.entries))
        self._eligible = [Expression(src) for src in sources]
        self._eligible_of = [sources.index(a.eligible) for a in self.entries]
        #: the names the rules and the eligible expressions read: all their environments hold
        self._env_names = self.rules.names.union(*(e.names for e in self._eligible))
        e = settings.engine
        self.contact_policy = ContactPolicy(e.max_marketing_touches_7d, e.sales_quiet_days)
        self._build_models()
        self.model_version = 0
        self._rng = np.random.default_rng([e.seed, 17])
        self.extras = DecisionExtras(settings, self.entries)
        #: the evidence for the apprentice's hand-over (decision/graduation.py)
        self.graduation = Graduation(e.graduation_min_evidence)
        prior = np.array([KIND_PRIOR_LIFT.get(a.kind, (0.0,) * 4) for a in self.entries])
        self.long_term = LongTermValue(
            len(self.entries), len(COARSE_STAGES), prior_lift=prior, wait_action=self.wait_index
        )
        #: segment values after the bandit (decision/segment_step.py); None when switched off
        self.segment_step = SegmentStep.for_engine(self) if e.segment_values else None
        #: the actions a person feels as a touch (e-mails and calls): segments count these
        self._touching = {a.id for a in self.entries if a.kind in FELT_ACTION_KINDS}

    def _build_models(self) -> None:
        """Name the model after the schema and build a fresh bandit and opt-out model for it."""
        e = self.settings.engine
        self.feature_version = self.builtin_version
        squared = numeric_columns(feature_names(self.topics, self.vocab))
        if self.declared is not None and self.declared.fitted:
            offset = len(feature_names(self.topics, self.vocab))
            self.feature_version = f"{self.builtin_version}+{self.declared.version}"
            squared += [offset + j for j in self.declared.squared_columns()]
        key = f"{self.feature_version}|{'|'.join(self.ids)}|{e.bandit}|{e.seed}"
        if e.squared_features and e.bandit != "epsilon_greedy":
            # another design matrix: an older linear (or all-squared) snapshot is not this model
            key += f"|squared-{len(squared)}"
        #: snapshots are stored under this name; a new catalog, schema or bandit is a new model
        self.model_name = f"engine-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
        #: the count-like columns that get a squared term (the design every snapshot of this model has)
        self.squared_columns = squared
        self.model: Apprentice = self.fresh_model()
        #: the pooled per-channel opt-out model the bandit's rewards are smoothed with (decision/risk.py)
        self.opt_out_groups, self.opt_out = build_opt_out(self.settings, self.entries, squared)
        #: impact arms' own learners (decision/experiment.py): a bandit that never learns (its prior)
        #: and one learning the raw rewards, without the opt-out model; None unless configured
        ablations = e.experiments.ablations
        self.prior_model: Apprentice | None = self.fresh_model() if ablations.get("learned_propensities") else None
        self.raw_model: Apprentice | None = (
            self.fresh_model() if ablations.get("opt_out_model") and self.opt_out is not None else None
        )

    @property
    def features_ready(self) -> bool:
        """False while declared features wait for their fitted state (hub/pipeline/features.py)."""
        return self.declared is None or self.declared.fitted

    def bind_features(self, spec: DeclaredSpec) -> None:
        """Use this fitted declared spec: a new feature version, so a new model (fresh, until a
        snapshot of that name is loaded)."""
        if self.declared is None or spec.declaration != self.declared.declaration:
            raise DecisionError("these declared features are not the ones in hub.yaml (decision.features)")
        self.declared = spec
        self._build_models()
        self.model_version = 0

    def fit_features(self, batch: Sequence[ContactView], now: datetime) -> DeclaredSpec:
        """Fit the declared spec on ``batch`` and bind it (in-process use; the pipeline fits on
        the store's contacts once per declaration and stores the result)."""
        if self.declared is None:
            raise DecisionError("no declared features (decision.features) to fit")
        spec = DeclaredSpec(self.declared.decls).fit(
            [v.contact for v in batch], [self._profile(v, now) for v in batch], now
        )
        self.bind_features(spec)
        return spec

    def fresh_model(self) -> Apprentice:
        """An untrained bandit of exactly this engine's design (what a snapshot's state fits)."""
        return build_bandit(self.settings, self.squared_columns)  # type: ignore[return-value]

    @property
    def version(self) -> str:
        return f"{self.model_name}@v{self.model_version}"

    # -- model lifecycle (called by hub/pipeline/learn.py) -------------------------------------

    def load_model(self, version: int, blob: bytes) -> None:
        """Restore a snapshot: the bandit and, when saved with it, the opt-out model (a snapshot
        from before the opt-out model existed leaves the current one as it is)."""
        parts = load_bundle(blob)
        self.model = parts.get("bandit", parts.get("policy"))  # type: ignore[assignment]
        if self.raw_model is not None:
            self.raw_model = parts.get("bandit_no_opt_out", self.fresh_model())  # type: ignore[assignment]
        if "opt_out" in parts and self.opt_out is not None:
            self.opt_out = OptOutRisk.of(parts["opt_out"])
        self.model_version = version

    def snapshot(self) -> bytes:
        parts: dict[str, Policy] = {"bandit": self.model}
        if self.opt_out is not None:
            parts["opt_out"] = self.opt_out.model
        if self.raw_model is not None:
            parts["bandit_no_opt_out"] = self.raw_model
        return save_bundle(parts)

    def learn(
        self,
        X: np.ndarray,
        actions: Sequence[str],
        rewards: np.ndarray,
        propensities: np.ndarray,
        unsubscribe_points: np.ndarray | None = None,
    ) -> int:
        """Update from finalized decisions; rewards are objective points (scaled here).

        ``unsubscribe_points`` (the part of each reward from unsubscribes) lets the opt-out model
        learn, and the bandit learns from the reward with that part replaced by its prediction."""
        idx = np.array([self.ids.index(a) if a in self.ids else -1 for a in actions], dtype=np.intp)
        keep = idx >= 0
        if not keep.any():
            return 0
        Xk = np.asarray(X, dtype=float)[keep]
        points = np.asarray(rewards, dtype=float)[keep]
        p = np.clip(np.asarray(propensities, dtype=float)[keep], MIN_PROPENSITY, 1.0)
        if self.raw_model is not None:  # the opt-out ablation's bandit learns the realized rewards
            raw = points * self.values[idx[keep]] / self.settings.engine.reward_scale
            self.raw_model.learn_many(Xk, idx[keep], raw, p)
        if self.opt_out is not None and unsubscribe_points is not None:
            unsub = np.asarray(unsubscribe_points, dtype=float)[keep]
            weight = self.settings.objective.unsubscribe
            points = self.opt_out.smooth(Xk, self.opt_out_groups[idx[keep]], points, unsub, weight)
        r = points * self.values[idx[keep]] / self.settings.engine.reward_scale
        self.model.learn_many(Xk, idx[keep], r, p)
        return int(keep.sum())

    def measure_graduation(
        self, X: np.ndarray, actions: Sequence[str], arms: Sequence[str], rewards: np.ndarray, propensities: np.ndarray
    ) -> bool:
        """Add a batch of finalized decisions to the hand-over evidence (decision/graduation.py),
        scored by the model *before* it learns them; graduate the apprentice when the engine's
        greedy policy beats the holdout's rules at 95 %. Returns whether it graduated now."""
        idx = np.array([self.ids.index(a) if a in self.ids else -1 for a in actions], dtype=np.intp)
        keep = idx >= 0
        if not keep.any() or self.model.graduated:
            return False
        X = np.asarray(X, dtype=float)[keep]
        greedy = np.argmax(self.model.predict_many(X), axis=1)
        r = np.asarray(rewards, dtype=float)[keep]
        a = idx[keep]
        self.graduation.add(greedy, a, np.asarray(propensities, dtype=float)[keep], r)
        hold = np.asarray(arms)[keep] == HOLDOUT
        if hold.any():
            self.graduation.add_rules(r[hold], greedy[hold], a[hold])
        if not self.settings.rules or not self.graduation.ready():
            return False
        for model in (self.model, self.raw_model):
            if model is not None:
                model.graduated = True
        return True

    def learn_long_term(
        self,
        X: np.ndarray,
        actions: Sequence[str],
        arms: Sequence[str],
        propensities: np.ndarray,
        converted: np.ndarray,
    ) -> int:
        """Learn each action's lift in conversion per stage (decision/long_term.py) from
        finalized decisions: ``converted`` is whether an opportunity opened within the
        decision's attribution window. Only randomized rows teach it, each weighted by 1 / its
        propensity: drawn actions (propensity < 1: the random-control arm, exploration) and the
        no-action control arm (a random sample of contacts left alone, the waiting baseline).
        Rows whose action was certain given the contact (the holdout's rules, the apprentice
        following them, budgets) would credit an action with the contacts it is given to."""
        idx = np.array([self.ids.index(a) if a in self.ids else -1 for a in actions], dtype=np.intp)
        p = np.clip(np.asarray(propensities, dtype=float), MIN_PROPENSITY, 1.0)
        keep = (idx >= 0) & ((p < 1.0 - 1e-9) | (np.asarray(arms) == CONTROL))
        if not keep.any():
            return 0
        X = np.asarray(X, dtype=float)[keep]
        stages = coarse_stage(Features(X, X, self._feature_names(), self.feature_version))
        self.long_term.learn(
            idx[keep], stages, np.asarray(converted, dtype=float)[keep], self.wait_index, 1.0 / p[keep]
        )
        return int(keep.sum())

    def learn_send_time(self, views: Sequence[ContactView], now: datetime) -> int:
        """Fit the send-time prior every decision starts from on these contacts' profiles
        (decision/enrich.py); returns how many had activity to learn from."""
        batch = self._with_profiles(list(views), now)
        if not batch:
            return 0
        return self.extras.learn_send_time(
            [v.profile for v in batch], [v.contact.company.timezone for v in batch], self.features(batch, now), now
        )

    def _feature_names(self) -> list[str]:
        names = feature_names(self.topics, self.vocab)
        return names + self.declared.names if self.declared is not None and self.declared.fitted else names

    # -- deciding ----------------------------------------------------------------------------

    def _with_profiles(self, batch: list[ContactView], now: datetime) -> list[ContactView]:
        """Views given as activities (the real-time API's) get the profile built from them, so
        the lead score, send time and long-term value read the history the features read; the
        decide workers' views carry their stored profile already."""
        if all(v.profile is not None for v in batch):
            return batch
        return [v if v.profile is not None else replace(v, profile=self._profile(v, now)) for v in batch]

    def _profile(self, view: ContactView, now: datetime) -> dict[str, Any]:
        if view.profile is not None:
            return view.profile
        return build_profile(view.activities, now, self.declared.tags if self.declared is not None else ())

    def features(self, batch: Sequence[ContactView], now: datetime) -> Features:
        """Built-in columns, then the declared ones (none by default: today's schema exactly)."""
        profiles = [self._profile(v, now) for v in batch]
        contacts = [v.contact for v in batch]
        F = featurize(contacts, profiles, now, self.topics, self.vocab)
        if self.declared is None:
            return F
        if not self.declared.fitted:
            raise DecisionError(
                "declared features (decision.features) are not fitted yet: the pipeline fits them on the store's"
                " contacts before deciding (hub/pipeline/features.py); in-process, call fit_features first"
            )
        X, raw = self.declared.transform(contacts, profiles, now)
        return Features(
            np.hstack([F.X, X]), np.hstack([F.raw, raw]), F.names + self.declared.names, self.feature_version
        )

    def mask(
        self,
        batch: Sequence[ContactView],
        now: datetime,
        F: Features,
        parts: dict[str, Any] | None = None,
        envs: Sequence[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """(n, k) allowed actions; ``parts``, when given, receives what went into it (for the trace);
        ``envs``: the rows' expression environments when the caller already built them."""
        n = len(batch)
        if 0 < n <= FEW_ROWS:
            return self._mask_rows(batch, now, F, parts, envs)
        base = np.ones((n, len(self.ids)), dtype=bool)
        for i, view in enumerate(batch):
            env = envs[i] if envs is not None else expression_env(view, now, self._env_names)
            holds = [e.holds(env, view.contact.id) for e in self._eligible]
            base[i] = [holds[j] for j in self._eligible_of]
        touches, since_sales, felt = self._touches(batch, now, F)
        if parts is not None:
            parts.update(rule=base.copy(), touches=touches, since_sales=since_sales, felt=felt)
        # the quiet period after a sales touch holds back the next sales touch too
        quiet = since_sales < self.contact_policy.sales_quiet_days
        if self.sales:
            base &= ~(quiet[:, None] & self._is_sales[None, :])
        return eligibility(
            self.catalog,
            n,
            base_mask=base,
            email_opt_out=[v.contact.consent.email_opt_out for v in batch],
            do_not_contact=[v.contact.consent.do_not_contact for v in batch],
            marketing_touches_7d=touches,
            days_since_sales_touch=np.where(since_sales >= NEVER_DAYS, np.nan, since_sales),
            contact_policy=self.contact_policy,
        )

    def _mask_rows(
        self,
        batch: Sequence[ContactView],
        now: datetime,
        F: Features,
        parts: dict[str, Any] | None,
        envs: Sequence[dict[str, Any]] | None,
    ) -> np.ndarray:
        """:meth:`mask` of a few rows (a real-time batch): the same rules on Python booleans and
        floats, row by row (:func:`decision.arbitration.eligible_row`), no (n, k) array steps."""
        cp, is_sales = self.contact_policy, self._sales_flags
        touches, since_sales, felt = self._touches(batch, now, F)
        rules, rows = [], []
        for i, (view, t, since) in enumerate(zip(batch, touches.tolist(), since_sales.tolist(), strict=True)):
            env = envs[i] if envs is not None else expression_env(view, now, self._env_names)
            holds = [e.holds(env, view.contact.id) for e in self._eligible]  # booleans
            rule = [holds[j] for j in self._eligible_of]
            rules.append(rule)
            if self.sales and since < cp.sales_quiet_days:  # the quiet period holds the next sales touch too
                rule = [ok and not sales for ok, sales in zip(rule, is_sales, strict=True)]
            since = math.nan if since >= NEVER_DAYS else since  # NaN: never (compares False)
            held = t >= cp.max_marketing_touches_7d or since < cp.sales_quiet_days
            c = view.contact.consent
            rows.append(eligible_row(self.catalog, rule, bool(c.email_opt_out), bool(c.do_not_contact), held))
        if parts is not None:
            parts.update(rule=np.array(rules, dtype=bool), touches=touches, since_sales=since_sales, felt=felt)
        return np.array(rows, dtype=bool)

    def _touches(
        self, batch: Sequence[ContactView], now: datetime, F: Features
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """E-mails in 7 days (the contact policy's marketing touch cap counts these), days since
        the last sales touch, and the touches the contact felt in 7 days (e-mails and calls:
        :func:`decision.segment_step.felt_touches`, what segments count), from activities and
        from the hub's own recent decisions (an action ordered yesterday may not be synced back
        yet; one sent shows in both, so the larger count is taken, not the sum)."""
        mail, felt_ids, sales = self._mail_ids, self._touching, self.sales
        ordered, ordered_felt, last_sales = [], [], []  # per row: in the last 7 days, and the newest sales touch
        for v in batch:
            n_mail = n_felt = 0
            sales_ages = []
            for at, a in v.decided:
                if (now - at).days < 7:
                    n_mail += a in mail
                    n_felt += a in felt_ids
                if a in sales:
                    sales_ages.append((now - at).total_seconds() / 86_400)
            ordered.append(float(n_mail))
            ordered_felt.append(float(n_felt))
            last_sales.append(min(sales_ages) if sales_ages else NEVER_DAYS)
        if len(batch) == 1:  # a real-time row: the array steps below on its floats, numpy's rules kept
            raw, col = F.raw, F.position
            sent, calls = raw.item(0, col("email_sent_7d")), raw.item(0, col("call_7d"))
            since = raw.item(0, col("days_since_sales_touch"))
            return (
                np.array([_maximum(sent, ordered[0])]),
                np.array([_minimum(since, _maximum(last_sales[0], 0.0))]),
                np.array([_maximum(sent + calls, ordered_felt[0])]),  # felt_touches
            )
        touches = np.maximum(F.column("email_sent_7d"), ordered)
        felt = felt_touches(F.column("email_sent_7d"), F.column("call_7d"), np.array(ordered_felt))
        since = np.minimum(F.column("days_since_sales_touch"), np.maximum(np.array(last_sales), 0.0))
        return touches, since, felt

    def _baseline(self, matched: Sequence[int | None]) -> np.ndarray:
        """Per row, the legacy rules' action (from :meth:`RulesPolicy.match`)."""
        base = self._rule_baseline
        return np.array([base[-1] if m is None else base[m] for m in matched], dtype=np.intp)

    def _baseline_of(self, actions: Sequence[Action]) -> int:
        """The catalog action a rule's actions name (the last ``next_best_action`` in the
        catalog), ``wait`` when none does."""
        out = self.wait_index
        for a in actions:
            nba = a.payload.get("fields", {}).get("next_best_action") if a.kind is ActionKind.SET_FIELDS else None
            if nba in self.ids:
                out = self.ids.index(nba)
        return out

    def arms(self, ids: Sequence[Any]) -> np.ndarray:
        """Each contact's experiment arm (decision/experiment.py), from hub.yaml's shares."""
        e = self.settings.engine
        return assign_arms(
            ids,
            e.experiment_salt,
            holdout_share=e.holdout_share,
            control_share=e.control_share,
            random_share=e.experiments.random_control,
            ablations=e.experiments.ablations,
        )

    def _arm_models(self) -> dict[str, Apprentice]:
        """The learner of each arm that does not use the engine's own (ablations of it)."""
        out = {}
        if self.prior_model is not None:
            out[NO_PRIOR] = self.prior_model
        if self.raw_model is not None:
            out[NO_OPT_OUT] = self.raw_model
        return out

    def _push_actions(self, entry: CatalogEntry, reason: str, extra: Mapping[str, Any] | None = None) -> list[Action]:
        fields = {
            "next_best_action": entry.id,
            "reason": clip_text(reason, REASON_MAX),
            **(extra or {}),
            **entry.fields,
        }
        actions = [Action(kind=ActionKind.SET_FIELDS, payload={"fields": fields})]
        if entry.list:
            actions.append(Action(kind=ActionKind.ADD_TO_LIST, payload={"list": entry.list}))
        if entry.owner:
            actions.append(Action(kind=ActionKind.ASSIGN_OWNER, payload={"owner": entry.owner}))
        return actions

    def decide(
        self, batch: list[ContactView], now: datetime, budget_used: Mapping[Any, int] | None = None
    ) -> list[Decision]:
        # the engine rows' design, means and widths are computed once for every reader: the
        # choice, budgets, long-term rerank, trace scores and (for one row) the explanation
        with self.model._one_batch():
            return self._decide(batch, now, budget_used)

    def _decide(self, batch: list[ContactView], now: datetime, budget_used: Mapping[Any, int] | None) -> list[Decision]:
        n = len(batch)
        if n == 0:
            return []
        if any(v.contact.id is None for v in batch):
            raise DecisionError("every contact needs a store id before deciding (arms hash the id).")
        batch = self._with_profiles(batch, now)
        arms = self.arms([v.contact.id for v in batch])
        envs = [expression_env(v, now, self._env_names) for v in batch]  # read by the rules and the eligibility both
        matched = self.rules.match(batch, now, envs)
        baseline = rule_action = self._baseline(matched)  # rule_action: as the rules chose, before the guard
        F = self.features(batch, now)
        parts: dict[str, Any] = {}
        mask = self.mask(batch, now, F, parts, envs)
        if n == 1:  # a real-time row: its rules' action read by item(), no index arrays
            legacy_ok = [mask.item(0, baseline.item(0))]
            if not legacy_ok[0]:
                baseline = np.array([self.wait_index], dtype=np.intp)
        else:
            ok = mask[np.arange(n), baseline]
            legacy_ok = ok.tolist()
            baseline = np.where(ok, baseline, self.wait_index)
        chosen = baseline.copy()
        prop = _ones(n)
        notes = [""] * n
        # row loops run over Python lists: iterating an array makes a scalar per row and ends
        # on a raised IndexError, dearer than the work on a real-time decision's one row
        arm_list = arms.tolist()
        arm_names = set(arm_list)  # most batches (a real-time one: always) hold the engine arm only
        eng_rows = [i for i, arm in enumerate(arm_list) if arm in _ENGINE_ARMS]
        eng = np.array(eng_rows, dtype=np.intp)
        eng_views = [batch[i] for i in eng_rows]
        probs = scores = None  # scores: the learner's immediate reward of the engine rows (points)
        segments = None if self.segment_step is None else self.segment_step.segments(batch, F, parts["felt"])
        # the engine rows' lead points and their conversion probability, read by the long-term
        # value and the pushed lead score
        points = profile_points([v.profile for v in eng_views], now)
        p_convert = points_probability(points)
        if eng_rows:
            every = slice(None) if len(eng_rows) == n else eng  # all rows: a slice writes them, no index array
            chosen[every], prop[every], notes_e, probs = self._arms_choose(
                _take(F.X, eng), _take(mask, eng), _take(baseline, eng), _take(arms, eng)
            )
            self._segment_choose(
                batch, now, F, mask, parts, segments, eng, arms, chosen, prop, notes_e, probs, baseline
            )
            for i, note in zip(eng_rows, notes_e, strict=True):
                # following the rules' action held by the guard is waiting for that cause, said in words
                if note == _FOLLOWING and not legacy_ok[i]:
                    action, why = self._held(i, batch[i], int(rule_action[i]), parts)
                    note = f"The legacy rules' {action} is not allowed now: {why}"
                notes[i] = note
            scores = self.model.predict_many(_take(F.X, eng)) * self.settings.engine.reward_scale
            demoted = self._budgets(batch, F, mask, eng, chosen, prop, notes, budget_used or {})
            # the rows the long-term value reranks: all but the random arm's and its own ablation's
            rows, p_rows, dem, arm_rows, pc = eng, probs, demoted, _take(arms, eng), p_convert
            if not arm_names.isdisjoint((RANDOM, NO_LONG_TERM)):
                keep = ~_among(arm_rows, (RANDOM, NO_LONG_TERM))
                rows, p_rows, dem, arm_rows, pc = (a[keep] for a in (rows, p_rows, dem, arm_rows, pc))
            # the same rows (the learner's scores read from the batch's cache) or a subset (predicted afresh)
            rows_scores = scores if rows is eng else None
            self._long_term(batch, now, F, mask, rows, chosen, prop, notes, p_rows, dem, arm_rows, pc, rows_scores)
        extra: list[dict[str, Any]] = [{} for _ in range(n)]
        if eng_rows:
            ex = self.extras.build(
                [v.profile for v in eng_views],
                [v.contact.company.timezone for v in eng_views],
                [v.contact.consent.email_opt_out for v in eng_views],
                [v.contact.consent.do_not_contact for v in eng_views],
                F if len(eng) == n else F.subset(eng),
                _take(chosen, eng),
                now,
                send_time=arms[eng] != NO_SEND_TIME if NO_SEND_TIME in arm_names else None,
                default_content=arms[eng] == NO_CONTENT if NO_CONTENT in arm_names else None,
                points=points,
                probability=p_convert,
            )
            for i, fields in zip(eng_rows, ex.fields, strict=True):
                extra[i] = fields
        traces = self._trace(batch, mask, parts, eng, probs, scores, baseline)
        if segments is not None:  # what the learn step reads (hub/pipeline/learn.py)
            for trace, segment in zip(traces, segments.tolist(), strict=True):
                trace["segment"] = segment
        out = []
        chosen_l, prop_l = chosen.tolist(), prop.tolist()
        for i, (view, arm) in enumerate(zip(batch, arm_list, strict=True)):
            entry = self.entries[chosen_l[i]]
            common = {
                "trace": traces[i],
                "contact_id": view.contact.id,
                "created_at": now,
                "features": F.X[i].tolist(),
                "feature_version": self.feature_version,
                "attribution_days": entry.attribution_days,
                "action": entry.id,
            }
            if arm == HOLDOUT:
                held = None if legacy_ok[i] else self._held(i, view, int(rule_action[i]), parts)
                d = self._legacy_decision(view, matched[i], now, held, {**common, "arm": HOLDOUT})
            elif arm == CONTROL:
                d = Decision(
                    actions=[],
                    policy=self.name,
                    policy_version=self.version,
                    arm=CONTROL,
                    explanation="Control group: no action, to measure what doing nothing earns",
                    **{**common, "action": self.ids[self.wait_index]},
                )
            else:
                reason = self._explain(F, i, chosen_l[i], notes[i])
                if arm in ARM_NOTES:
                    reason = f"{reason} [{ARM_NOTES[arm]}]"
                d = Decision(
                    actions=self._push_actions(entry, reason, extra[i]),
                    policy=self.name,
                    policy_version=self.version,
                    propensity=prop_l[i],
                    arm=arm,
                    explanation=reason,
                    **common,
                )
            out.append(d)
        return out

    def legacy(self, batch: list[ContactView], now: datetime) -> list[Decision]:
        """The legacy rules' decisions under the holdout arm's guard: a rule's action that
        consent or the contact policy forbids becomes ``wait``. The ``next_best_action`` kill
        switch decides with this (hub/governance/plan.py), so it turns the engine off, not the
        guard."""
        if not batch:
            return []
        batch = self._with_profiles(batch, now)
        envs = [expression_env(v, now, self._env_names) for v in batch]
        matched = self.rules.match(batch, now, envs)
        parts: dict[str, Any] = {}
        mask = self.mask(batch, now, self.features(batch, now), parts, envs)
        rule_action = self._baseline(matched).tolist()
        held = [
            None if mask[i, j] else self._held(i, v, j, parts)
            for i, (v, j) in enumerate(zip(batch, rule_action, strict=True))
        ]
        return [self._legacy_decision(v, m, now, h, {}) for v, m, h in zip(batch, matched, held, strict=True)]

    def _held(self, i: int, view: ContactView, j: int, parts: Mapping[str, Any]) -> tuple[str, str]:
        """Row ``i``'s legacy action ``j``, forbidden by the mask: its id and why, in words (the trace's)."""
        rule, since, touches = (parts[key][i] for key in ("rule", "since_sales", "touches"))
        return self.ids[j], self._excluded(j, view.contact.consent, bool(rule[j]), float(since), float(touches))

    def _legacy_decision(
        self,
        view: ContactView,
        rule: int | None,
        now: datetime,
        held: tuple[str, str] | None,
        update: Mapping[str, Any],
    ) -> Decision:
        """The rules' decision for rule number ``rule``, or ``wait`` when its action is ``held``
        (why, from :meth:`_held`)."""
        d = self.rules.decision(view, rule, now)
        if held is None:
            return d.model_copy(update={**update, "propensity": 1.0})
        wait = self.entries[self.wait_index]
        return d.model_copy(
            update={
                **update,
                "propensity": 1.0,
                "action": wait.id,
                "actions": self._push_actions(wait, "wait (the rule's action is not allowed now)"),
                "explanation": f"wait: the legacy rule's action is not allowed now ({held[0]}: {held[1]})",
            }
        )

    def _trace(self, batch, mask, parts, eng, probs, scores, baseline) -> list[dict[str, Any]]:  # noqa: ANN001
        """Per row, what the console's inspector shows: each action's exclusion reason (None
        when eligible), and for engine rows its score (``scores``: the learner's, in objective
        points) and probability before budgets and long-term overrules; ``rules_action`` is the
        legacy rules' choice."""
        n, k = len(batch), len(self.ids)
        # rounded per engine row, None elsewhere and for NaN
        s: list[list[float | None] | None] = [None] * n
        p: list[list[float | None] | None] = [None] * n
        if len(eng):
            for i, s_row, p_row in zip(eng.tolist(), scores.tolist(), probs.tolist(), strict=True):
                s[i], p[i] = _rounded(s_row), _rounded(p_row)
        out = []
        reasons = None  # what the exclusions read, as lists from the first row with one on
        for i, (view, allowed, rules_action) in enumerate(zip(batch, mask.tolist(), baseline.tolist(), strict=True)):
            if all(allowed):  # most rows
                why: list[str | None] = [None] * k
            else:
                if reasons is None:
                    reasons = [parts[key].tolist() for key in ("rule", "since_sales", "touches")]
                rule, since, touches = (r[i] for r in reasons)
                c = view.contact.consent
                why = [None if ok else self._excluded(j, c, rule[j], since, touches) for j, ok in enumerate(allowed)]
            out.append(
                {
                    "actions": self.ids,
                    "excluded": why,
                    "score": [None] * k if s[i] is None else s[i],
                    "probability": [None] * k if p[i] is None else p[i],
                    "rules_action": self.ids[rules_action],
                }
            )
        return out

    def _excluded(self, j: int, consent: Consent, rule_ok: bool, since_sales: float, touches: float) -> str:
        """Why action ``j`` is not allowed, in the order the mask's steps forbid it."""
        cp, spec = self.contact_policy, self.catalog.actions[j]
        if consent.do_not_contact:
            return "do not contact"
        if consent.email_opt_out and self.catalog.email[j]:
            return "opted out of e-mail"
        if not rule_ok:
            return f"its eligible rule is false: {self.entries[j].eligible}"
        if (self._is_sales[j] or spec.marketing) and since_sales < cp.sales_quiet_days:
            return f"quiet period: sales touch {since_sales:.1f} days ago (< {cp.sales_quiet_days})"
        if spec.marketing and touches >= cp.max_marketing_touches_7d:
            return f"touch cap: {touches:.0f} {'e-mail' if touches == 1 else 'e-mails'} in 7 days"
        return "not allowed by the contact policy"

    def _arms_choose(
        self, X: np.ndarray, mask: np.ndarray, baseline: np.ndarray, arms: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
        """:meth:`_engine_choose` for the engine-chosen arms: ablations of the learner choose with
        their own model, the random-control arm draws uniformly among the eligible actions."""
        models = self._arm_models()
        names = set(arms.tolist())
        if RANDOM not in names and not names & models.keys():  # every row the engine's own (real-time: all)
            return self._engine_choose(X, mask, baseline, self.model)
        own = ~_among(arms, (RANDOM, *models))
        actions = np.full(len(X), self.wait_index, dtype=np.intp)
        prop, probs = np.ones(len(X)), np.zeros(mask.shape)
        notes = [""] * len(X)
        groups = [(np.flatnonzero(own), self.model)]
        groups += [(np.flatnonzero(arms == arm), model) for arm, model in models.items()]
        for rows, model in groups:
            if len(rows):
                a, p, nt, pr = self._engine_choose(_take(X, rows), _take(mask, rows), baseline[rows], model)
                actions[rows], prop[rows], probs[rows] = a, p, pr
                for j, i in enumerate(rows):
                    notes[i] = nt[j]
        rnd = np.flatnonzero(arms == RANDOM)
        if len(rnd):
            probs[rnd] = mask[rnd] / mask[rnd].sum(axis=1, keepdims=True)
            draws = self._rng.random(len(rnd))[:, None] < np.cumsum(probs[rnd], axis=1)
            actions[rnd] = np.argmax(draws, axis=1)
            prop[rnd] = probs[rnd, actions[rnd]]
        return actions, prop, notes, probs

    def _segment_choose(
        self, batch, now, F, mask, parts, segments, eng, arms, chosen, prop, notes, probs, baseline
    ) -> None:  # noqa: ANN001
        """Segment values choose for the engine's own rows (not the random arm, not ablations with
        their own learner) once they have learned enough, within what the apprentice allows
        (:meth:`_apprentice_allowed`); the logged propensity is their Thompson share of the
        action taken, and ``probs`` (engine rows) become those shares."""
        step = self.segment_step
        if step is None or not step.chooser.active:
            return
        own = np.flatnonzero(~_among(arms[eng], (RANDOM, *self._arm_models())))
        if len(own):
            rows = eng[own]
            relief = step.relief_days([batch[i] for i in rows], now, self._touching)
            prior = self.model.predict_many(F.X[rows]) * self.settings.engine.reward_scale
            allowed = self._apprentice_allowed(F.X[rows], mask[rows], baseline[rows], segments[rows])
            share = self.settings.engine.explore_share
            bands = step.bands(F.X[rows])
            a, p, nt = step.choose(
                segments[rows], prior, mask[rows], parts["felt"][rows], relief, self._rng, allowed, share, bands
            )
            chosen[rows], probs[own] = a, p
            prop[rows] = np.clip(p[np.arange(len(own)), a], MIN_PROPENSITY, 1.0)
            for j, k in enumerate(own):
                notes[k] = nt[j]

    def _apprentice_allowed(
        self, X: np.ndarray, mask: np.ndarray, baseline: np.ndarray, segments: np.ndarray
    ) -> np.ndarray | None:
        """(n, k) what the segment values may take on their own: actions with enough evidence
        (``apprentice_min_observations`` outcomes in the bandit, or in the row's segment) and
        the rules' choice; None once graduated. Without rules there is no choice to add, and
        the bandit's actions are those it has measured (:meth:`Apprentice.measured`), as in
        :meth:`_engine_choose`."""
        if self.model.graduated or self.segment_step is None:
            return None
        seen = self.segment_step.chooser.values.n[segments] >= self.model.min_observations
        if not self.settings.rules:
            return (self.model.measured(mask) | seen) & mask
        allowed = (self.model.mature(X) | seen) & mask
        rows = np.arange(len(X))
        allowed[rows, baseline] |= mask[rows, baseline]
        return allowed

    def learn_segment_values(self, segments, actions, parts, stage_now, reachable_now) -> int:  # noqa: ANN001
        """Segment values learn finalized rows (decision/segment_step.py); 0 when switched off."""
        if self.segment_step is None:
            return 0
        idx = np.array([self.ids.index(a) if a in self.ids else -1 for a in actions], dtype=np.intp)
        seg = np.array([-1 if s is None else s for s in segments], dtype=np.intp)
        seg[idx < 0] = -1
        return self.segment_step.learn(seg, np.maximum(idx, 0), parts, self.values, stage_now, reachable_now)

    def choice_probabilities(self, X: np.ndarray) -> np.ndarray:
        """(n, k) how the engine's own rows would choose on feature rows ``X`` with every action
        eligible and no rules' choice to follow: the actions it has measured, with the
        ``explore_share`` free (what a warm start from a log is valued by)."""
        X = np.asarray(X, dtype=float)
        return self._mixture(X, np.ones((len(X), len(self.ids)), dtype=bool), None, self.model)

    def _mixture(self, X: np.ndarray, mask: np.ndarray, baseline: np.ndarray | None, model: Apprentice) -> np.ndarray:
        """(n, k) probability of each action: the apprentice, with ``explore_share`` free rows."""
        share = self.settings.engine.explore_share
        teacher = baseline if self.settings.rules else None  # as in _engine_choose
        p_app = model.probabilities_many(X, mask, baseline=teacher)
        return (1 - share) * p_app + share * model.policy.probabilities_many(X, mask) if share > 0 else p_app

    def _engine_choose(
        self, X: np.ndarray, mask: np.ndarray, baseline: np.ndarray, model: Apprentice | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
        """Actions, their propensities, notes, and every action's probability (n, k)."""
        model = model or self.model
        share = self.settings.engine.explore_share
        free = self._rng.random(len(X)) < share
        if not self.settings.rules or model.graduated:
            # no legacy rules: their "wait" is no teacher (apprenticing to it would lock the
            # engine into the first action that matures); the apprentice keeps what the engine
            # has not measured to the free share (decision/policies/apprentice.py ``measured``)
            baseline = None
        actions, probs = model.choose_mixed(X, mask, baseline, free, share)
        if len(X) == 1:  # a real-time row: the steps below on its scalars
            a = actions.item(0)
            prop = np.array([_propensity_of(probs.item(0, a))])
            followed = [baseline is not None and a == baseline.item(0) and not free.item(0)]
        else:
            prop = _propensity(probs[np.arange(len(X)), actions])
            followed = [False] * len(X) if baseline is None else ((actions == baseline) & ~free).tolist()
        notes = [_FOLLOWING if f else "" for f in followed]
        return actions, prop, notes, probs

    def _budgets(self, batch, F, mask, eng, chosen, prop, notes, used) -> np.ndarray:  # noqa: ANN001
        """Apply the per-owner sales budget; returns which engine rows it demoted.

        Not with ``decision.owners``: the router picks each hand-off's owner after this step
        (hub/pipeline/routing.py) and caps each owner's day with ``max_new_per_day``; keyed by
        the contact's owner, every new lead shared one budget of a pseudo-owner "unassigned"."""
        e = self.settings.engine
        if len(eng) == 1:  # a real-time row: its action's flag, no index array
            wanted = self._sales_flags[chosen.item(eng.item(0))]
        else:
            wanted = self._is_sales[_take(chosen, eng)].any()
        if self.settings.owners or not wanted:  # routed, or nothing budgeted wanted
            return np.zeros(len(eng), dtype=bool)
        owners = np.array([batch[i].contact.owner or "unassigned" for i in eng.tolist()], dtype=object)
        if len(eng) <= FEW_ROWS:  # a real-time batch: every owner's handoffs within its budget are all kept
            sales = self._sales_flags
            wanted = Counter(str(o) for o, a in zip(owners.tolist(), chosen[eng].tolist(), strict=True) if sales[a])
            if all(e.sales_handoffs_per_owner_per_day - int(used.get(o, 0)) >= k for o, k in wanted.items()):
                return np.zeros(len(eng), dtype=bool)  # what apply_budgets returns then: nothing demoted
        scores = self.model.predict_many(F.X[eng]) * self.values
        prio = np.where(mask[eng], scores, -np.inf)
        budget = Budget("sales_handoffs", self.sales, e.sales_handoffs_per_owner_per_day, True, used)
        new, demoted = apply_budgets(chosen[eng], prio, mask[eng], self.catalog, [budget], owners)
        for j in np.flatnonzero(demoted):
            i = eng[j]
            chosen[i] = new[j]
            prop[i] = 1.0
            notes[i] = f"Sales handoff budget of owner {owners[j]} is used up today"
        return demoted

    def long_term_points(
        self,
        F: Features,
        profiles: Sequence[Mapping[str, Any] | None],
        now: datetime,
        p_convert: np.ndarray | None = None,
    ) -> np.ndarray:
        """(n, k) long-term value in objective points: the change in eventual conversion each
        action causes times what a conversion is worth (an opportunity plus expected revenue);
        ``p_convert``: the rows' conversion probability from their lead points (decision/enrich.py)
        when the caller has it."""
        obj = self.settings.objective
        p0 = points_probability(profile_points(profiles, now)) if p_convert is None else p_convert
        dp = self.long_term.value(p0, coarse_stage(F), _ones(len(p0)))
        return dp * (obj.opportunity + obj.revenue * DEFAULT_DEAL_VALUE)

    def _short(self, X: np.ndarray, arms: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
        """(n, k) immediate reward in objective points, by each row's arm's learner; ``scores``:
        the engine's learner's for these rows, when the caller has them (left as they are)."""
        scale = self.settings.engine.reward_scale
        short = self.model.predict_many(X) * scale if scores is None else scores
        for arm, model in self._arm_models().items():
            rows = arms == arm
            if rows.any():
                short = short.copy() if short is scores else short
                short[rows] = model.predict_many(X[rows]) * scale
        return short

    def _long_term(
        self, batch, now, F, mask, eng, chosen, prop, notes, probs, demoted, arms, p_convert, scores=None
    ) -> None:  # noqa: ANN001
        """Overrule harmful choices (decision/long_term.py) and log honest propensities: the
        rerank maps every action the bandit might have drawn to a final one, so a final action's
        propensity is the bandit's probability mass routed to it (not 1 where it overruled).
        ``p_convert``: the ``eng`` rows' conversion probability from their lead points;
        ``scores``: the engine's learner's immediate reward of those rows (None: predicted here)."""
        w = self.settings.engine.long_term_weight
        if w <= 0:
            return
        if len(eng) == 0:
            return
        Fe = F if len(eng) == len(F.X) else F.subset(eng)
        me = _take(mask, eng)
        short = self._short(Fe.X, arms, scores)
        lt = self.long_term_points(Fe, [batch[i].profile for i in eng.tolist()], now, p_convert)
        final = reranked_draws(short, lt, me, w)  # every draw's rerank: the chosen ones' and the routing
        if len(eng) == 1:  # a real-time row: the same steps on its scalars (read by item()), no index arrays
            i = eng.item(0)
            drawn = chosen.item(i)
            new_one = final.item(0, drawn)
            if new_one != drawn:
                notes[i] = explain_long_term(
                    self.ids[drawn], self.ids[new_one], lt.item(0, new_one) - lt.item(0, drawn)
                )
                chosen[i] = new_one
            if not demoted.item(0):
                prop[i] = _propensity_of(route(probs, final).item(0, new_one))
            return
        new = final[np.arange(len(eng)), chosen[eng]]
        over = new != chosen[eng]
        routed = route(probs, final)
        for j in np.flatnonzero(over):
            i = eng[j]
            gain = float(lt[j, new[j]] - lt[j, chosen[i]])
            notes[i] = explain_long_term(self.ids[chosen[i]], self.ids[new[j]], gain)
            chosen[i] = new[j]
        free = ~demoted  # a budget demotion is forced, whatever was drawn: it stays at 1
        rows = eng[free]
        prop[rows] = _propensity(routed[np.flatnonzero(free), chosen[rows]])

    def phrase(self, name: str, value: float) -> str:
        """Words for one column: declared ones by their label, built-in ones by decision/explain.py."""
        if self.declared is not None and name.startswith(DECLARED_PREFIX):
            return self.declared.phrase(name, value)
        return phrase(name, value)

    def _explain(self, F: Features, i: int, action: int, note: str) -> str:
        entry = self.entries[action]
        parts = []
        if self.model.policy.n_obs_.item(action) > 0:
            try:
                # a few rows: the batch the model checked when it chose (one check, not one per row)
                few = len(F.X) <= FEW_ROWS
                contrib = self.model.explain_row(F.X, i, action) if few else self.model.explain_iter(F.X[i], action)
            except DecisionError:
                contrib = iter(())
            scale = self.settings.engine.reward_scale
            parts = top_factors(
                ((j, c * scale) for j, c in contrib),  # read only up to the top few
                F.names,
                F.raw[i],
                self.settings.engine.explain_top,
                phrase=phrase if self.declared is None else self.phrase,  # no declared columns: no detour
            )
        head = f"{entry.id}"
        if note:
            head += f" ({note})"
        return head + (": " + "; ".join(parts) if parts else "")

    # -- off-policy evaluation (hub/reports/evaluate.py) ---------------------------------------

    def action_probabilities(self, batch: list[ContactView], now: datetime, X: np.ndarray | None = None) -> np.ndarray:
        """(n, k) probability that :meth:`decide` takes each catalog action, per view.

        Mirrors ``decide``: arms by contact id; holdout rows take the legacy rules' action when
        allowed (else wait) and control rows wait, both with probability 1; random-control rows
        are uniform over the eligible actions; engine rows (and ablation rows, with their own
        learner) mix the apprentice with the ``explore_share`` free rows, the engine's own rows
        are the segment values' Thompson shares once those choose (estimated from fresh draws),
        all pushed through the long-term rerank unless theirs is the arm without it.
        ``X`` (n, d), when given, is what the model reads instead of the recomputed features
        (e.g. the vectors logged at decision time); the mask still uses the recomputed ones.
        Not modelled: the per-owner daily handoff budget, which depends on the rest of the
        batch; rows it would have demoted keep their bandit probabilities.
        """
        n, k = len(batch), len(self.ids)
        out = np.zeros((n, k))
        if n == 0:
            return out
        batch = self._with_profiles(batch, now)
        e = self.settings.engine
        arms = self.arms([v.contact.id for v in batch])
        F = self.features(batch, now)
        if X is not None:
            F = Features(np.asarray(X, dtype=float), F.raw, F.names, F.version, F.index)
        envs = [expression_env(v, now, self._env_names) for v in batch]
        parts: dict[str, Any] = {}
        mask = self.mask(batch, now, F, parts, envs=envs)
        baseline = self._baseline(self.rules.match(batch, now, envs))
        baseline = np.where(mask[np.arange(n), baseline], baseline, self.wait_index)
        rows = np.arange(n)
        out[rows, np.where(arms == CONTROL, self.wait_index, baseline)] = 1.0
        eng = np.flatnonzero(_among(arms, ENGINE_ARMS))
        if len(eng) == 0:
            return out
        Xe, me, ae = F.X[eng], mask[eng], arms[eng]
        probs = np.zeros((len(eng), k))
        own = ~_among(ae, (RANDOM, *self._arm_models()))
        for sel, model in [(own, self.model), *((ae == arm, m) for arm, m in self._arm_models().items())]:
            if sel.any():
                probs[sel] = self._mixture(Xe[sel], me[sel], baseline[eng][sel], model)
        step = self.segment_step
        if step is not None and step.chooser.active and own.any():  # as _segment_choose
            rows = eng[own]
            seg = step.segments([batch[i] for i in rows], F.subset(rows), parts["felt"][rows])
            relief = step.relief_days([batch[i] for i in rows], now, self._touching)
            prior = self.model.predict_many(F.X[rows]) * e.reward_scale
            allowed = self._apprentice_allowed(F.X[rows], me[own], baseline[rows], seg)
            probs[own] = step.chooser.probabilities(
                seg,
                prior,
                me[own],
                parts["felt"][rows],
                relief,
                self._rng,
                allowed,
                e.explore_share,
                step.bands(F.X[rows]),
            )
        rnd = ae == RANDOM
        probs[rnd] = me[rnd] / me[rnd].sum(axis=1, keepdims=True)
        rr = ~_among(ae, (RANDOM, NO_LONG_TERM))
        if e.long_term_weight > 0 and rr.any():
            Fe = F.subset(eng[rr])
            short = self._short(Fe.X, ae[rr])
            lt = self.long_term_points(Fe, [batch[i].profile for i in eng[rr]], now)
            probs[rr] = routed_probabilities(probs[rr], short, lt, me[rr], e.long_term_weight)
        out[eng] = probs
        return out
