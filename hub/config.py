"""hub.yaml: one file, validated once at start-up.

``${ENV_VAR}`` in a settings value (``EXPANDED``: store and broker URLs, connector
``settings``, the API's secrets and URLs) is replaced from the environment before validation
(``${VAR:-default}`` gives a default). Anywhere else (rule reasons, action and catalog fields:
text that is pushed to a CRM or shown in explanations) a ``${`` is a config error naming the
key path, so a secret cannot be sent out by a reference; ``$${`` is a literal ``${`` anywhere.
Unknown keys are errors. Each connector's
``settings`` block is validated by that connector's own pydantic model, so errors name the
full key path (``connectors.crm.settings.access_token``). This module is the only one that
reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from decision.declared.settings import FeatureDecl, check_unique, connector_problems
from hub.api.settings import ApiSettings
from hub.config_hints import nearest_key
from hub.errors import ConfigError
from hub.fields import HUB_FIELD_NAMES
from hub.governance.settings import GovernanceSettings, OwnerEntry
from hub.models import ActionKind
from hub.outcomes_spec import DeclaredOutcome, objective_problems

DEFAULT_PATH = "hub.yaml"
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNESCAPED = re.compile(r"\$\$\{|\$\{")
#: key paths whose strings may read ``${VAR}`` from the environment; nothing else may
EXPANDED = re.compile(
    r"(store_url|broker_url"
    r"|connectors\.[^.\[]+\.settings([.\[].*)?"
    r"|api\.(host|port|public_url|session_secret|hubspot_client_secret|salesforce_shared_secret|salesforce_org_id|salesforce_outbound_secret)"
    r"|api\.tokens\[\d+\]\.token|api\.users\[\d+\]\.password_hash|api\.segment_write_keys\[\d+\]\.key)"
)
_NOT_HERE = (
    "`${...}` is read from the environment only in settings (store_url, broker_url, connectors.<name>.settings,"
    " api secrets, write keys and URLs), not in text that is pushed or shown; write `$${...}` for a literal `${...}`"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectorEntry(_Strict):
    """One configured connector instance (``connectors.<name>``)."""

    type: str
    enabled: bool = True
    sync_interval: int = Field(300, ge=5, description="seconds between scheduled syncs")
    push_interval: int = Field(60, ge=1, description="seconds between scheduled pushes")
    receives: list[ActionKind] = Field(default_factory=lambda: list(ActionKind))
    field_mapping: dict[str, str] = Field(default_factory=dict)
    # raw, before the connector's model turns secrets into SecretStr: never in a repr or log
    settings: dict[str, Any] = Field(default_factory=dict, repr=False)


class RuleAction(_Strict):
    kind: ActionKind
    connector: str | None = None
    fields: dict[str, Any] | None = None
    list: str | None = None
    owner: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> RuleAction:
        need = {
            ActionKind.SET_FIELDS: "fields",
            ActionKind.ADD_TO_LIST: "list",
            ActionKind.REMOVE_FROM_LIST: "list",
            ActionKind.ASSIGN_OWNER: "owner",
        }[self.kind]
        if not getattr(self, need):
            raise ValueError(f"a {self.kind.value} action needs `{need}`")
        return self

    def payload(self) -> dict[str, Any]:
        if self.kind is ActionKind.SET_FIELDS:
            return {"fields": dict(self.fields or {})}
        if self.kind in (ActionKind.ADD_TO_LIST, ActionKind.REMOVE_FROM_LIST):
            return {"list": self.list}
        return {"owner": self.owner}


class Rule(_Strict):
    """``when`` is an expression over the contact (see hub/expressions.py)."""

    name: str
    when: str = "True"
    actions: list[RuleAction] = Field(default_factory=list)
    reason: str | None = None

    @field_validator("when")
    @classmethod
    def _compiles(cls, v: str) -> str:
        return _check_names(v)


def _check_names(v: str) -> str:
    from decision.context import EXPRESSION_NAMES
    from hub.expressions import Expression

    unknown = Expression(v).names - EXPRESSION_NAMES - {"True", "False", "None"}
    if unknown:
        raise ValueError(f"unknown names {sorted(unknown)}; use one of {', '.join(sorted(EXPRESSION_NAMES))}")
    return v


ActionType = Literal["email", "content_offer", "sales_outreach", "ad_audience", "wait"]
#: the kinds that send an e-mail: consent, the touch cap and content all treat them as e-mail
EMAIL_ACTION_KINDS = ("email", "content_offer")


class CatalogEntry(_Strict):
    """One action the engine may choose (``decision.actions``).

    ``value`` multiplies the outcome reward of this action (Pega's V: a demo booked is worth
    more to the business than a webinar seat with the same response). ``eligible`` is an
    expression over the contact (hub/expressions.py). What is pushed: ``next_best_action`` =
    the id plus ``reason`` and any ``fields`` (the user's own CRM fields: one the hub writes itself,
    :data:`hub.fields.HUB_FIELD_NAMES`, is a config error); ``list`` adds the contact to a list; ``owner``
    assigns an owner.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    kind: ActionType
    channel: str = Field("none", description="email for an e-mail kind (its default); consent is read from it")
    topic: str = "none"
    format: str = "none"
    value: float = Field(1.0, gt=0)
    eligible: str = "True"
    attribution_days: float = Field(7.0, gt=0, le=180, description="outcomes within this window count")
    fields: dict[str, Any] = Field(default_factory=dict)
    list: str | None = None
    owner: str | None = None

    @field_validator("eligible")
    @classmethod
    def _compiles(cls, v: str) -> str:
        return _check_names(v)

    @model_validator(mode="before")
    @classmethod
    def _email_channel(cls, data: Any) -> Any:
        """An e-mail kind's channel defaults to email: consent goes by the channel, so an e-mail
        left on ``none`` reached people who opted out of e-mail."""
        if isinstance(data, dict) and data.get("kind") in EMAIL_ACTION_KINDS and "channel" not in data:
            return {**data, "channel": "email"}
        return data

    @field_validator("channel")
    @classmethod
    def _email_kind_on_email(cls, v: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind in EMAIL_ACTION_KINDS and v != "email":
            raise ValueError(
                f"{'an' if kind == 'email' else 'a'} {kind} action is sent by e-mail, so its channel must be email"
                f" (or left out); got {v!r}"
            )
        return v

    @property
    def marketing(self) -> bool:
        return self.kind in ("email", "content_offer", "ad_audience")


def default_actions() -> list[CatalogEntry]:
    """The sandbox market's nine ids: the catalog a fresh install starts from."""
    from hub.sandbox.catalog import CATALOG

    return [
        CatalogEntry(
            id=a.id,
            kind=a.kind,  # type: ignore[arg-type]
            channel=a.channel,
            topic=a.topic,
            format=a.format,
            eligible="not do_not_contact" if a.kind != "wait" else "True",
        )
        for a in CATALOG
    ]


class ObjectiveWeights(BaseModel):
    """What an outcome is worth; ``revenue`` multiplies the won deal amount. Other keys weight
    declared outcomes (``decision.outcomes``; checked against them in :func:`parse_settings`)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, float]

    open: float = 0.1
    click: float = 1.0
    form: float = 5.0
    meeting: float = 20.0
    opportunity: float = 50.0
    revenue: float = 0.001
    unsubscribe: float = -30.0


class FeatureVocabularySettings(_Strict):
    """One-hot buckets of the engine's categorical features (decision/features.py Vocabulary).

    Unset keeps the built-in lists (the sandbox's industries and countries, HubSpot's lifecycle
    stages); set them to your CRM's picklist values, or every contact lands in ``other``.
    Changing them changes the feature schema, so the engine starts a new model.
    """

    industries: list[str] | None = Field(None, description="industry values, e.g. HubSpot's COMPUTER_SOFTWARE")
    countries: list[str] | None = Field(None, description="country values as the CRM stores them (case-insensitive)")
    lifecycle_stages: list[str] | None = Field(
        None, description="stage values; ones outside HubSpot's standard stages count as early for long-term value"
    )


AblatedComponent = Literal["learned_propensities", "long_term_value", "send_time", "content", "opt_out_model"]


class ExperimentSettings(_Strict):
    """Impact arms beside the engine and the holdout (decision/experiment.py), assigned by the
    same salted hash. Off by default: every contact in one of these arms gets a deliberately
    weaker policy, and a lift of a few percent needs thousands of contacts per arm to show
    (`hub report impact` prints how many), so they pay off on large lists, switched on on purpose."""

    random_control: float = Field(
        0.0, ge=0, le=1, description="contacts given an eligible action at random (unbiased per-action evidence)"
    )
    ablations: dict[AblatedComponent, float] = Field(
        default_factory=dict,
        description=(
            "share of contacts decided by the engine with one component off, per component: learned_propensities"
            " (the bandit's learned values replaced by its prior: the apprentice follows the rules), long_term_value"
            " (no long-term rerank), send_time (no best_send_time), content (each slot's first variant),"
            " opt_out_model (a bandit learned from raw unsubscribes)"
        ),
    )

    @field_validator("ablations")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, share in v.items() if not 0 <= share <= 1]
        if bad:
            raise ValueError(f"ablation shares must be between 0 and 1; got {', '.join(f'{k}: {v[k]}' for k in bad)}")
        return v

    @property
    def total(self) -> float:
        return self.random_control + sum(self.ablations.values())


class EngineSettings(_Strict):
    """The learning engine: experiment arms, bandit, cold start, contact policy and budgets."""

    features: FeatureVocabularySettings = Field(default_factory=FeatureVocabularySettings)

    bandit: Literal["linear_thompson", "linucb", "epsilon_greedy"] = "linear_thompson"
    exploration: float = Field(
        0.2, ge=0, description="scales posterior width (Thompson, LinUCB) or is epsilon (epsilon-greedy)"
    )
    half_life: float | None = Field(
        1_000_000,
        gt=0,
        description=(
            "forgetting of the linear bandits (linear_thompson, linucb): each learned decision's weight halves"
            " after this many further decisions, so a drifting market is tracked and an untried action is"
            " explored again; null = never forget"
        ),
    )
    learn_noise: bool = Field(
        True,
        description=(
            "linear bandits learn each action's reward noise variance (conjugate normal-inverse-gamma)"
            " and scale its exploration by it, instead of assuming the same noise for every action"
        ),
    )
    squared_features: bool = Field(
        True,
        description=(
            "linear bandits (linear_thompson, linucb) also fit a squared term per count-like feature (counts,"
            " recencies, rates, sizes; not one-hot columns), so an action's reward may bend in a count (e.g."
            " unsubscribe risk rising steeply with the week's touches) instead of following a straight line"
        ),
    )
    opt_out_model: bool = Field(
        True,
        description=(
            "learn the chance of an unsubscribe per channel from every touch on it (decision/risk.py) and let"
            " the bandit learn from that chance instead of the rare realized unsubscribe: the same expected"
            " reward with far less noise"
        ),
    )
    seed: int = 0
    experiment_salt: str = "engine-1"
    holdout_share: float = Field(0.1, ge=0, le=1, description="contacts decided by the legacy rules")
    control_share: float = Field(0.0, ge=0, le=1, description="contacts given no action")
    apprentice_min_observations: int = Field(
        50, ge=0, description="outcomes an action needs before the engine picks it"
    )
    explore_share: float = Field(0.1, ge=0, le=1, description="engine decisions free of the apprentice restriction")
    graduation_min_evidence: int = Field(
        100,
        ge=1,
        description=(
            "the apprentice hands over completely once the engine's off-policy value beats the holdout's with a 95%"
            " lower bound above zero, each side with at least this many (effective) decisions (decision/graduation.py)"
        ),
    )
    reward_scale: float = Field(10.0, gt=0, description="rewards are divided by this before learning")
    max_marketing_touches_7d: int = Field(
        3,
        ge=0,
        description=(
            "e-mails in 7 days (the CRM's sent e-mails or the hub's own e-mail decisions, whichever is more; ad"
            " audiences are not counted) after which no marketing action, e-mail or ad, is chosen"
        ),
    )
    sales_quiet_days: float = Field(3.0, ge=0)
    sales_handoffs_per_owner_per_day: int = Field(
        25, ge=0, description="by the contact's owner; with decision.owners, each owner's max_new_per_day instead"
    )
    explain_top: int = Field(3, ge=1, le=10)
    redecide_after_days: float | None = Field(7.0, gt=0, description="decide again for contacts with no newer decision")
    long_term_weight: float = Field(
        0.3, ge=0, le=1, description="weight of long-term value against the immediate reward (0 = immediate only)"
    )
    long_term_learning: bool = Field(
        False,
        description=(
            "move long-term value from its stated prior toward the conversions observed after randomized"
            " decisions (decision/long_term.py); off: the prior alone. Off by default: at 10,000 contacts in"
            " bench/decision_quality.py learning it earned less than the prior on every evaluation seed."
            " Switched on later, it learns every past decision whose horizon has passed"
        ),
    )
    segment_values: bool = Field(
        True,
        description=(
            "after the bandit, choose by Thompson draws from the reward each action has earned per segment"
            " (lifecycle stage x seniority x marketing touches in 7 days x opted out), shrunk toward the"
            " bandit's prediction, with opportunities priced at the won revenue learned per company size band"
            " (decision/deal_value.py) and unsubscribes at the learned lost future (decision/segment_value.py);"
            " off: the bandit chooses alone"
        ),
    )
    channel_order: list[Literal["email", "ad_audience", "sales_call", "direct_mail"]] = Field(
        ["email", "sales_call", "ad_audience", "direct_mail"],
        min_length=1,
        description=(
            "best_channel's default order: a contact without clear evidence gets the first allowed channel of"
            " this list (decision/channel.py); channels left out come last"
        ),
    )
    channel_switch_ratio: float = Field(
        3.0,
        ge=1,
        description=(
            "best_channel leaves the first allowed channel of channel_order only for a channel where the contact's"
            " response rate, over that channel's population rate, is at least this many times their rate on the"
            " channel chosen so far (decision/channel.py); 1 = the higher relative rate wins"
        ),
    )
    send_time: bool = Field(True, description="push best_send_time from the per-contact send-time model")
    quiet_hours: tuple[int, int] = Field((6, 21), description="earliest and latest local send hour")
    experiments: ExperimentSettings = Field(default_factory=ExperimentSettings)

    @field_validator("quiet_hours")
    @classmethod
    def _send_window(cls, v: tuple[int, int]) -> tuple[int, int]:
        # the hours mails may go out in, not the quiet ones: [22, 7] allowed no hour, and every
        # send time fell to local midnight
        lo, hi = v
        if not 0 <= lo <= hi <= 23:
            raise ValueError(
                f"[{lo}, {hi}] is not a send window: give the earliest and the latest local hour a mail may go "
                "out, 0-23, earliest first (the default [6, 21] sends between 06:00 and 21:59)"
            )
        return v

    @field_validator("channel_order")
    @classmethod
    def _distinct_channels(cls, v: list[str]) -> list[str]:
        twice = sorted({c for c in v if v.count(c) > 1})
        if twice:
            raise ValueError(f"each channel may appear once; repeated: {', '.join(twice)}")
        return v

    @model_validator(mode="after")
    def _arm_shares(self) -> EngineSettings:
        total = self.holdout_share + self.control_share + self.experiments.total
        if total > 1 + 1e-12:
            raise ValueError(
                "holdout_share + control_share + experiments.random_control + experiments.ablations must be at"
                f" most 1; they sum to {total:g}"
            )
        return self


def default_content() -> dict[str, list[str]]:
    """Three variants per content slot: what a fresh install tests."""
    return {
        "subject": ["question", "benefit", "personal"],
        "hero": ["product_shot", "customer_logo", "illustration"],
        "body": ["short", "story", "data"],
        "cta": ["book_demo", "read_more", "talk_to_us"],
    }


class DecisionSettings(_Strict):
    policy: Literal["engine", "rules"] = "engine"
    rules: list[Rule] = Field(default_factory=list, description="the legacy rules: holdout and apprentice baseline")
    actions: list[CatalogEntry] = Field(default_factory=default_actions)
    objective: ObjectiveWeights = Field(default_factory=ObjectiveWeights)
    outcomes: list[DeclaredOutcome] = Field(
        default_factory=list, description="declared outcomes (hub/outcomes_spec.py), weighted in objective by name"
    )
    engine: EngineSettings = Field(default_factory=EngineSettings)
    features: list[FeatureDecl] = Field(
        default_factory=list,
        description="declared feature columns appended to the built-in schema (decision/declared/settings.py)",
    )
    content: dict[Literal["subject", "hero", "body", "cta"], list[str]] = Field(
        default_factory=default_content, description="content slot variants, each slot tested by its own bandit"
    )
    chunk_size: int = Field(200, ge=1, le=10_000, description="contacts per decide task")
    decide_during_sync_after: float = Field(
        300,
        ge=0,
        description="seconds into a sync after which each full chunk of committed contacts is decided"
        " while the sync goes on (before that, once at its end, after activities are read too)",
    )
    learn_interval: int = Field(300, ge=5, description="seconds between scheduled learn steps")
    owners: list[OwnerEntry] = Field(default_factory=list, description="sales owners that hand-offs are routed to")
    #: decision/scoring/settings.py ScoringSettings: set, a trained model's lead_score /
    #: conversion_probability are pushed; unset, engine decisions push the legacy points score.
    #: Validated lazily: importing the scorer pulls in scikit-learn, which every hub start
    #: (CLI, workers) would otherwise pay for whether scoring is configured or not.
    scoring: Any = Field(
        None, description="lead scoring (decision/scoring/settings.py); unset: the legacy points score"
    )

    @field_validator("scoring", mode="before")
    @classmethod
    def _scoring(cls, v: Any) -> Any:
        if v is None:
            return None
        from decision.scoring.settings import ScoringSettings

        return v if isinstance(v, ScoringSettings) else ScoringSettings.model_validate(v)

    @field_validator("features")
    @classmethod
    def _unique_features(cls, v: list[FeatureDecl]) -> list[FeatureDecl]:
        return check_unique(v)

    @model_validator(mode="after")
    def _catalog(self) -> DecisionSettings:
        if self.policy == "engine" and not any(a.kind == "wait" for a in self.actions):
            raise ValueError("decision.actions needs one action of kind `wait` (the always-allowed fallback)")
        return self


def _repeated_ids(section: str, ids: list[str]) -> list[tuple[str, str]]:
    """A problem at each id that repeats an earlier one of ``section``, naming where it first is."""
    first: dict[str, int] = {}
    out = []
    for i, id_ in enumerate(ids):
        if id_ in first:
            out.append(
                (f"{section}[{i}].id", f"{id_!r} is already the id of {section}[{first[id_]}]; ids must be unique")
            )
        first.setdefault(id_, i)
    return out


def _decision_problems(settings: Settings) -> list[tuple[str, str]]:
    """Problems that span entries, each at the key a person fixes: a repeated catalog or owner id,
    an autonomy entry for an action the catalog does not hold, a catalog action's field the hub
    writes itself (laid over the hub's, it pushed another next_best_action than the one logged,
    or hid the reason and the consent-checked channel), a content variant given twice (the
    slot's bandit credits a send to the first of equal names: the second was drawn, never learned)."""
    d = settings.decision
    out = _repeated_ids("decision.actions", [a.id for a in d.actions])
    out += _repeated_ids("decision.owners", [o.id for o in d.owners])
    ids = [a.id for a in d.actions]
    out += [
        (
            f"governance.autonomy.actions.{name}",
            f"not a catalog action id (decision.actions); use one of {', '.join(ids)}",
        )
        for name in settings.governance.autonomy.actions
        if name not in ids
    ]
    out += [
        (
            f"decision.actions[{i}].fields.{key}",
            f"the hub writes {key} itself with every decision (the action's id, its reason, send time, channel,"
            " content and scores); an action's fields are your own CRM fields",
        )
        for i, a in enumerate(d.actions)
        for key in a.fields
        if key in HUB_FIELD_NAMES
    ]
    for slot, names in d.content.items():
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            out.append((f"decision.content.{slot}", f"each variant may appear once; repeated: {', '.join(twice)}"))
    return out


class CelerySettings(_Strict):
    visibility_timeout: int = Field(3600, ge=1, description="seconds; above the longest task")
    restore_interval: int = Field(10, ge=1, description="seconds between sweeps that requeue tasks of dead workers")
    task_time_limit: int = Field(900, ge=1)
    result_expires: int = Field(3600, ge=60)


class PushSettings(_Strict):
    max_attempts: int = Field(8, ge=1)
    backoff_base: float = Field(5.0, gt=0, description="seconds; doubles per attempt, jittered")
    backoff_max: float = Field(3600.0, gt=0)
    lease_seconds: int = Field(
        60,
        ge=1,
        description="a push lane's lock and its claimed batch are renewed by a heartbeat while their worker lives; "
        "a killed worker's lane and batch are taken over (the batch re-sent) this long after its last beat",
    )
    batch_limit: int = Field(1000, ge=1, description="pushes handled by one push task")
    lanes: int = Field(
        3,
        ge=1,
        le=64,
        description="pushes to one connector that may run at once; records are split between lanes by a hash of "
        "their id, so each record's writes stay in order (the vendor's rate limit is shared by all lanes)",
    )


class Settings(_Strict):
    store_url: str = "sqlite:///hub.db"
    broker_url: str = "redis://127.0.0.1:6379/0"
    plugins: list[str] = Field(default_factory=list, description="extra plugin modules to load")
    connectors: dict[str, ConnectorEntry] = Field(default_factory=dict)
    decision: DecisionSettings = Field(default_factory=DecisionSettings)
    celery: CelerySettings = Field(default_factory=CelerySettings)
    push: PushSettings = Field(default_factory=PushSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    source_path: str | None = Field(None, exclude=True)

    @field_validator("store_url", "broker_url")
    @classmethod
    def _url(cls, v: str) -> str:
        """Parsed as the driver parses it. A password holding '@' put its tail in the host, and
        every error printed it; a port that is no number failed only at the first connection."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if v.startswith("redis"):
            host = v.partition("://")[2].partition("/")[0]
            port = host.rpartition("@")[2].rpartition(":")[2] if ":" in host.rpartition("@")[2] else ""
            if host.count("@") > 1:
                raise ValueError("the password holds an '@': URL-encode it as %40 (the host is after the last @)")
            if port and not port.isdigit():
                raise ValueError("the port is not a number")
            return v
        try:
            url = make_url(v)
        except (ArgumentError, ValueError):
            raise ValueError("not a database URL (dialect+driver://user:password@host:port/database)") from None
        if "@" in (url.host or ""):
            raise ValueError("the password holds an '@': URL-encode it as %40 (the host is after the last @)")
        return v

    @field_validator("connectors")
    @classmethod
    def _names(cls, v: dict[str, ConnectorEntry]) -> dict[str, ConnectorEntry]:
        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
                raise ValueError(f"connector name {name!r} must be lower-case letters, digits, _")
        return v

    def enabled_connectors(self) -> dict[str, ConnectorEntry]:
        return {n: c for n, c in self.connectors.items() if c.enabled}


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get("HUB_CONFIG") or DEFAULT_PATH)


def _interpolate(value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and "${" in k:
                k = _literal(k, sub, problems)
            out[k] = _interpolate(v, sub, problems)
        return out
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        if not EXPANDED.fullmatch(path):
            return _literal(value, path, problems)

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return "${"
            var, default = m.group(1), m.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            problems.append(
                (path, f"environment variable {var} is not set; export it or give a default as ${{{var}:-value}}")
            )
            return ""

        return _ENV_REF.sub(sub, value)
    return value


def _literal(value: str, path: str, problems: list[tuple[str, str]]) -> str:
    """A string outside the settings: ``$${`` becomes ``${``, a bare ``${`` is a problem."""
    if any(m.group(0) == "${" for m in _UNESCAPED.finditer(value)):
        problems.append((path, _NOT_HERE))
        return value
    return value.replace("$${", "${")


def _loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad mapping key: the path already ends at that key
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _errors(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")  # pydantic names the exception; the reader needs the words
        if err["type"] == "extra_forbidden":
            near = nearest_key(model, tuple(err["loc"]))
            guess = f"did you mean {near!r}? " if near else "check the spelling; "
            msg = f"unknown key ({guess}see `hub init` for a sample)"
        problems.append((_loc(tuple(err["loc"]), prefix), msg))
    return problems


def parse_settings(raw: Any, *, source: str | None = None, plugins: Any = None) -> Settings:
    """Validate a parsed YAML document; raises ConfigError listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([("", "the config file must be a mapping of keys to values")])
    problems: list[tuple[str, str]] = []
    raw = _interpolate(raw, "", problems)
    interpolation = len(problems)  # an unset variable is its key's problem, not also the empty value left
    unset = {path for path, _ in problems}
    settings = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_errors(exc, Settings))
    if plugins is None:
        from hub.plugins import build_plugin_manager

        extra = settings.plugins if settings else raw.get("plugins") if isinstance(raw.get("plugins"), list) else []
        plugins = build_plugin_manager([p for p in extra if isinstance(p, str)])
    problems.extend(_connector_settings_problems(plugins.types, _valid_entries(raw, settings)))
    if settings is not None:
        problems.extend(connector_problems(settings.decision.features, settings.connectors, plugins.types))
    problems.extend(objective_problems(raw.get("decision")))
    if settings is not None:
        problems.extend(_decision_problems(settings))
        problems.extend(_rule_connector_problems(settings))
    if problems or settings is None:
        raise ConfigError([p for i, p in enumerate(problems) if i < interpolation or p[0] not in unset])
    _canonical_owners(settings, plugins.types)
    settings.source_path = source
    return settings


def _canonical_owners(settings: Settings, types: dict[str, Any]) -> None:
    """Owner ids in the config in the form each configured CRM reads them back (a Salesforce
    15-character id becomes its 18-character form), so a written owner is seen to have landed."""
    forms = [types[e.type].canonical_owner for e in settings.connectors.values() if e.type in types]

    def canonical(owner: str) -> str:
        for form in forms:
            owner = form(owner)
        return owner

    for o in settings.decision.owners:
        o.id = canonical(o.id)
    for rule in settings.decision.rules:
        for a in rule.actions:
            if a.owner is not None:
                a.owner = canonical(a.owner)
    for entry in settings.decision.actions:
        if entry.owner is not None:
            entry.owner = canonical(entry.owner)


def _rule_connector_problems(settings: Settings) -> list[tuple[str, str]]:
    """A rule action's ``connector`` names a configured connector: a typo validated, and the
    action's writes matched no record and were never queued."""
    names = ", ".join(sorted(settings.connectors)) or "none"
    return [
        (f"decision.rules[{i}].actions[{j}].connector", f"unknown connector {a.connector!r} (configured: {names})")
        for i, rule in enumerate(settings.decision.rules)
        for j, a in enumerate(rule.actions)
        if a.connector is not None and a.connector not in settings.connectors
    ]


def _connector_settings_problems(types: dict[str, Any], entries: dict[str, ConnectorEntry]) -> list[tuple[str, str]]:
    """Each connector's type is installed, its settings validate against the type's model, and
    it can carry out what it ``receives``."""
    problems: list[tuple[str, str]] = []
    for name, entry in entries.items():
        path = f"connectors.{name}"
        cls = types.get(entry.type)
        if cls is None:
            known = ", ".join(sorted(types)) or "none installed"
            problems.append((f"{path}.type", f"unknown connector type {entry.type!r} (installed: {known})"))
            continue
        try:
            cls.settings_model.model_validate(entry.settings)
        except ValidationError as exc:
            problems.extend(_errors(exc, cls.settings_model, f"{path}.settings"))
        unsupported = [k.value for k in entry.receives if k not in cls.supported_actions]
        if unsupported:
            problems.append((f"{path}.receives", f"{entry.type} cannot carry out {unsupported}"))
    return problems


def _valid_entries(raw: dict[str, Any], settings: Settings | None) -> dict[str, ConnectorEntry]:
    """Connector entries that validated on their own, so their settings get checked too."""
    if settings is not None:
        return settings.connectors
    entries = {}
    section = raw.get("connectors")
    for name, body in section.items() if isinstance(section, dict) else []:
        try:
            entries[name] = ConnectorEntry.model_validate(body)
        except ValidationError:
            continue
    return entries


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where (line, column), without PyYAML's snippet of the file: the
    line it quotes may hold a literal secret (a token pasted in place of ``${VAR}``)."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return type(exc).__name__
    parts = []
    for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
        if what:
            parts.append(f"{what} (line {mark.line + 1}, column {mark.column + 1})" if mark else what)
    return "; ".join(parts) or type(exc).__name__


def load_settings(path: str | os.PathLike[str] | None = None, *, plugins: Any = None) -> Settings:
    p = config_path(path)
    if not p.exists():
        raise ConfigError([("", f"config file {p} not found; run `hub init` to write a sample")])
    text = p.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
        twice = _repeated_keys(yaml.compose(text, Loader=yaml.SafeLoader), "")
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"{p} is not valid YAML: {_yaml_problem(exc)}")]) from None
    if twice:  # YAML keeps the last silently: a whole connector or section would be gone
        raise ConfigError(twice)
    settings = parse_settings(raw, source=str(p), plugins=plugins)
    settings.store_url = sqlite_beside(settings.store_url, p.resolve().parent)
    return settings


def _repeated_keys(node: yaml.Node | None, path: str) -> list[tuple[str, str]]:
    """Keys a mapping gives twice, by key path, with the lines of both."""
    out: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            sub = f"{path}.{name}" if path else name
            if name in first and name != "<<":
                out.append((sub, f"defined twice (lines {first[name]} and {key.start_mark.line + 1}); keep one"))
            first.setdefault(name, key.start_mark.line + 1)
            out += _repeated_keys(value, sub)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _repeated_keys(item, f"{path}[{i}]")
    return out


def sqlite_beside(url: str, folder: Path) -> str:
    """A relative SQLite path in a config file means beside that file, wherever the command runs
    (``sqlite:///hub.db`` in /srv/hub/hub.yaml is /srv/hub/hub.db)."""
    prefix, sep, path = url.partition(":///")
    if not sep or not prefix.startswith("sqlite") or not path or path.startswith(("/", ":memory:")):
        return url
    query = ""
    if "?" in path:
        path, query = path.split("?", 1)
        query = "?" + query
    return f"{prefix}:///{(folder / path).as_posix()}{query}"
