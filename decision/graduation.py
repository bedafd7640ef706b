"""When the apprentice hands over: measured evidence that the engine beats the legacy rules.

Azure Personalizer leaves apprentice mode at a match rate, but agreeing with the rules says the
engine imitates them, not that it does better. Here the apprentice (decision/policies/apprentice.py)
graduates, i.e. chooses freely among the eligible actions, when the engine's greedy policy earns
more than the legacy rules with a 95 % lower bound above zero:

- the engine's value is a self-normalised IPS estimate over logged decisions (every arm, each
  with its logged propensity), ``w = 1[a = greedy(x)] / propensity``, where ``greedy`` is the
  model *before* it learns that batch (progressive validation: no row scores a model that saw
  it); its standard error by the delta method, ``sum w^2 (r - V)^2 / (sum w)^2``;
- the rules' value is the on-policy mean reward of the legacy-rules holdout arm.

Both accumulate over learn steps (so the engine side averages the models it has been: it is
conservative while the model improves). Without a holdout there is nothing to measure against,
and the per-action counts (``apprentice_min_observations``) stay the only hand-over. The share
of holdout rows where the greedy choice equals the rules' (the agreement rate) is kept for
monitoring beside the evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Z_95 = 1.959964
_KEYS = ("sw", "swr", "sw2", "sw2r", "sw2r2", "n_rules", "sr", "sr2", "agree", "n_agree")


@dataclass
class Graduation:
    """Running sums for the engine's and the rules' value; :meth:`ready` is the hand-over test.

    >>> g = Graduation(min_evidence=10)
    >>> g.add(greedy=[0] * 50, actions=[0] * 50, propensities=[0.5] * 50, rewards=[1.0] * 50)
    >>> g.add_rules(rewards=[0.0, 0.1] * 25, greedy=[0] * 50, actions=[1] * 50)
    >>> g.ready(), round(g.agreement, 2)
    (True, 0.0)
    """

    min_evidence: float = 100.0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_KEYS, 0.0))

    def add(self, greedy: Any, actions: Any, propensities: Any, rewards: Any) -> None:
        """Logged rows: the greedy action of the model before learning them, the action taken,
        its propensity and the reward (objective points)."""
        g, a = np.asarray(greedy), np.asarray(actions)
        r = np.asarray(rewards, dtype=float)
        w = (g == a) / np.clip(np.asarray(propensities, dtype=float), 1e-3, 1.0)
        s = self.sums
        s["sw"] += float(w.sum())
        s["swr"] += float((w * r).sum())
        s["sw2"] += float((w * w).sum())
        s["sw2r"] += float((w * w * r).sum())
        s["sw2r2"] += float((w * w * r * r).sum())

    def add_rules(self, rewards: Any, greedy: Any, actions: Any) -> None:
        """Holdout rows: the rules' reward, and whether the engine's greedy choice agreed."""
        r = np.asarray(rewards, dtype=float)
        s = self.sums
        s["n_rules"] += len(r)
        s["sr"] += float(r.sum())
        s["sr2"] += float((r * r).sum())
        s["agree"] += float((np.asarray(greedy) == np.asarray(actions)).sum())
        s["n_agree"] += len(r)

    @property
    def engine_value(self) -> tuple[float, float, float]:
        """``(value, standard error, effective sample size)`` of the greedy engine policy."""
        s = self.sums
        if s["sw"] <= 0:
            return math.nan, math.inf, 0.0
        v = s["swr"] / s["sw"]
        var = (s["sw2r2"] - 2 * v * s["sw2r"] + v * v * s["sw2"]) / s["sw"] ** 2
        return v, math.sqrt(max(var, 0.0)), s["sw"] ** 2 / s["sw2"]

    @property
    def rules_value(self) -> tuple[float, float, float]:
        """``(value, standard error, n)`` of the legacy rules on the holdout."""
        s = self.sums
        n = s["n_rules"]
        if n < 2:
            return math.nan, math.inf, n
        m = s["sr"] / n
        var = max(s["sr2"] / n - m * m, 0.0) * n / (n - 1)
        return m, math.sqrt(var / n), n

    @property
    def agreement(self) -> float:
        return self.sums["agree"] / self.sums["n_agree"] if self.sums["n_agree"] else math.nan

    def lower_bound(self) -> float:
        """95 % lower bound of the engine's value minus the rules' (NaN without evidence)."""
        (ve, se_e, _), (vr, se_r, _) = self.engine_value, self.rules_value
        return ve - vr - Z_95 * math.sqrt(se_e**2 + se_r**2) if math.isfinite(ve) and math.isfinite(vr) else math.nan

    def ready(self) -> bool:
        """Enough evidence on both sides, and the engine better at 95 %."""
        _, _, ess = self.engine_value
        _, _, n = self.rules_value
        lb = self.lower_bound()
        return ess >= self.min_evidence and n >= self.min_evidence and math.isfinite(lb) and lb > 0

    def report(self) -> dict[str, float | None]:
        """Figures for the snapshot's metrics (JSON-ready)."""
        (ve, se_e, ess), (vr, se_r, n) = self.engine_value, self.rules_value

        def num(x: float) -> float | None:
            return round(x, 6) if math.isfinite(x) else None

        return {
            "engine_value": num(ve),
            "engine_se": num(se_e),
            "engine_ess": num(ess),
            "rules_value": num(vr),
            "rules_se": num(se_r),
            "rules_n": n,
            "lower_bound": num(self.lower_bound()),
            "agreement": num(self.agreement),
        }

    def state(self) -> dict[str, float]:
        return dict(self.sums)

    def load_state(self, state: dict[str, Any]) -> None:
        self.sums = {k: float(state.get(k, 0.0)) for k in _KEYS}
