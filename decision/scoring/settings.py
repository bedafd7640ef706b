"""Lead-scoring settings, ready to nest as ``decision.scoring`` in hub.yaml.

Kept beside the scorer so decision/ does not import hub/config.py; the model is strict like
every other settings block, so a typo is a start-up error.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model_name: str = Field("lead_score", description="name of the model in the registry")
    horizon_days: int = Field(90, ge=7, le=365, description="an opportunity within this many days is a positive")
    min_positives: int = Field(
        50,
        ge=1,
        description="contacts with an opportunity in the training windows needed before a model replaces the "
        "points score (each counts once, however many opportunities or stacked cut-offs it converts in)",
    )
    training_cutoffs: int = Field(4, ge=1, le=52, description="stacked cut-offs in a training set")
    cutoff_step_days: int = Field(14, ge=1, description="days between training cut-offs")
    default_deal_value: float = Field(10_000.0, gt=0, description="deal value until deals have amounts")
    retrain_every_hours: float = Field(
        24.0,
        ge=1,
        description="beat retrains (and the embedded runner, when due) this often; also `hub model train scoring`",
    )
    tolerance_auc: float = Field(0.01, ge=0, description="a new version may lose this much ROC AUC and still go live")
    tolerance_brier: float = Field(0.002, ge=0)
    tolerance_ece: float = Field(0.02, ge=0)
