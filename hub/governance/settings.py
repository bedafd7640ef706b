"""Governance settings: autonomy per action, kill switches, monitoring alerts, sales owners.

Kept out of hub/config.py (which only nests them) so the governance pieces can be read and
tested on their own. Every model is strict like the rest of hub.yaml: a typo is a start-up
error, not a silently ignored switch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.models import ActionKind

Autonomy = Literal["automatic", "needs_approval", "off"]
#: the use cases a kill switch can send back to the legacy behaviour
UseCase = Literal["next_best_action", "routing", "scoring"]
USE_CASES: tuple[str, ...] = ("next_best_action", "routing", "scoring")
Severity = Literal["warning", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutonomySettings(_Strict):
    """How far the hub may act alone. A catalog action's entry wins over its push kind's.

    ``automatic`` pushes at once; ``needs_approval`` holds the push until a person approves
    it (or it expires after ``approval_ttl_hours``, which counts as a rejection); ``off``
    records the decision and stores the push ``withheld``, never sent. A decision none of whose
    writes was sent is not learned from: its contact's behaviour was not caused by it.
    """

    kinds: dict[ActionKind, Autonomy] = Field(default_factory=dict, description="per push kind")
    actions: dict[str, Autonomy] = Field(default_factory=dict, description="per catalog action id")
    approval_ttl_hours: float = Field(72.0, gt=0, le=24 * 90)


class AlertSettings(_Strict):
    """Monitoring thresholds (decision/monitoring.Thresholds) and which alerts stop a use case.

    ``kill_switch`` maps an alert kind (drift, auc, brier, calibration, reward_rate,
    exploration_low, exploration_high) to the use cases its alert switches to the legacy
    behaviour until a person acknowledges it; ``min_severity`` filters which alerts may do so.
    """

    enabled: bool = True
    interval: int = Field(3600, ge=5, description="seconds between monitoring runs on the learn schedule")
    window_days: int = Field(7, ge=1, le=90)
    psi_warning: float = Field(0.1, gt=0)
    psi_critical: float = Field(0.25, gt=0)
    min_auc: float = Field(0.6, ge=0, le=1)
    max_brier_increase: float = Field(0.02, ge=0)
    max_ece: float = Field(0.05, ge=0)
    min_reward_ratio: float = Field(0.5, ge=0, description="unused since reward alerts are tests; kept for old configs")
    min_rows: int = Field(100, ge=1, description="fewest rows (decisions, contacts) a check or a segment needs")
    alpha: float = Field(
        0.01, gt=0, lt=1, description="false-alarm rate per check and run (Holm-corrected over what it watches)"
    )
    clear_alpha: float = Field(0.1, gt=0, lt=1, description="an open alert clears once its p-value is above this")
    reward_horizon_days: int = Field(
        3, ge=1, le=60, description="outcomes within this many days of a decision count for the reward check"
    )
    min_exploration: float = Field(0.02, ge=0, le=1)
    max_exploration: float = Field(
        0.5,
        ge=0,
        le=1,
        description="alert when more than this share of engine decisions took an action with less than even odds"
        " (a sampling policy explores by design while it learns; past half, it is mostly guessing)",
    )
    kill_switch: dict[str, list[UseCase]] = Field(default_factory=dict)
    min_severity: Severity = "critical"

    @field_validator("kill_switch")
    @classmethod
    def _kinds(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        known = {"drift", "auc", "brier", "calibration", "reward_rate", "exploration_low", "exploration_high"}
        unknown = set(v) - known
        if unknown:
            raise ValueError(f"unknown alert kinds {sorted(unknown)}; use some of {', '.join(sorted(known))}")
        return v


class GovernanceSettings(_Strict):
    """``governance:`` in hub.yaml."""

    autonomy: AutonomySettings = Field(default_factory=AutonomySettings)
    #: use cases switched to the legacy behaviour by configuration (a run-time switch adds to these)
    kill_switches: dict[UseCase, bool] = Field(default_factory=dict)
    alerts: AlertSettings = Field(default_factory=AlertSettings)


class OwnerSpecializations(_Strict):
    industries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)


class OwnerCapacity(_Strict):
    max_open_leads: int = Field(50, ge=0)
    max_new_per_day: int = Field(10, ge=0)


class OwnerEntry(_Strict):
    """One sales owner (``decision.owners[]``) for routing sales hand-offs.

    ``territory``: the regions (countries unless ``routing_regions`` maps them) this owner
    covers. A lead from a region some owner covers may only go to the owners covering it;
    a lead from an uncovered region may go to anyone.
    """

    id: str = Field(min_length=1, max_length=120)
    active: bool = True
    specializations: OwnerSpecializations = Field(default_factory=OwnerSpecializations)
    capacity: OwnerCapacity = Field(default_factory=OwnerCapacity)
    territory: list[str] = Field(default_factory=list)
