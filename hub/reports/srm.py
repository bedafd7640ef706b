"""Sample ratio mismatch: do the arms hold the shares of contacts the config assigns them?

Arms are cut from a salted hash, so their sizes follow the configured shares up to binomial noise.
When they do not, something between the assignment and the data is broken (contacts lost on one
side, a share changed mid-experiment, a kill switch that once stamped everyone ``rules``), and every
lift figure comparing the arms is biased in a way no interval shows. A chi-squared goodness-of-fit
test over the hashed arms, flagged at p < 0.001 as Optimizely, Statsig and Eppo flag theirs (the
check runs on every report, so its own false alarms must stay rare).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import chi2

from decision.experiment import CONTROL, ENGINE, HOLDOUT, RANDOM, ablation_arm
from hub.config import Settings
from hub.reports.data import ArmFrame

ALPHA = 0.001
#: an arm expected to hold fewer contacts than this leaves the test to chance (chi-squared needs
#: about five per cell)
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class SampleRatio:
    counts: dict[str, int]
    shares: dict[str, float]  # configured, over the arms tested
    p_value: float | None  # None: too few contacts to test
    mismatch: bool

    def message(self) -> str:
        if self.p_value is None:
            return ""
        seen = ", ".join(f"{a} {n:,} ({self.shares[a]:.0%} configured)" for a, n in self.counts.items())
        if not self.mismatch:
            return f"Arm sizes match the configured shares (p = {self.p_value:.2g}): {seen}."
        return (
            f"Sample ratio mismatch: {seen}; p = {self.p_value:.1e}. The arms are not the sizes the config "
            "assigns, so contacts were lost or moved on one side (or the shares changed during the experiment): "
            "do not trust these lifts until that is found."
        )


def configured_shares(settings: Settings) -> dict[str, float]:
    """The arms the engine's hash assigns and their shares (the engine takes the rest)."""
    e = settings.decision.engine
    shares = {HOLDOUT: e.holdout_share, CONTROL: e.control_share, RANDOM: e.experiments.random_control}
    shares |= {ablation_arm(c): s for c, s in e.experiments.ablations.items()}
    shares = {a: s for a, s in shares.items() if s > 0}
    shares[ENGINE] = max(0.0, 1.0 - sum(shares.values()))
    return {a: s for a, s in shares.items() if s > 0}


def sample_ratio(counts: dict[str, int], shares: dict[str, float]) -> SampleRatio:
    """Test the contacts per arm (first decisions) against ``shares``; arms outside it (``rules``
    of a rules-only hub, an arm whose share was removed) are left out."""
    tested = {a: int(counts.get(a, 0)) for a in shares}
    total = sum(tested.values())
    if len(shares) < 2 or not total or min(total * s for s in shares.values()) < MIN_EXPECTED:
        return SampleRatio(tested, shares, None, False)
    stat = sum((tested[a] - total * s) ** 2 / (total * s) for a, s in shares.items())
    p = float(chi2.sf(stat, len(shares) - 1))
    return SampleRatio(tested, shares, p, p < ALPHA)


def check_arms(settings: Settings, frame: ArmFrame) -> SampleRatio | None:
    """The check of an engine hub's arms in ``frame`` (None for a rules-only hub: no hashed arms)."""
    if settings.decision.policy != "engine":
        return None
    return sample_ratio({arm: int((frame.arm == arm).sum()) for arm in frame.arms}, configured_shares(settings))
