"""Best channel per contact: among the channels consent and the action allow, the one the
contact has answered on most, Beta-shrunk toward the population's channel response rates.

Why: the same action lands better on the channel a person prefers (an executive who takes
calls, a developer who reads email). Evidence per contact is thin, so each channel's response
rate is a Beta posterior whose prior is the population's rate for that channel with
``prior_strength`` pseudo-touches; Thompson sampling picks among the allowed ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decision.draws import beta

#: the channel names the hub writes to ``best_channel`` (hub/fields.py)
CHANNELS = ("email", "ad_audience", "sales_call", "direct_mail")
#: per channel: profile kinds that count as a touch on it, and as a response to it
TOUCH_KINDS: Mapping[str, tuple[str, ...]] = {
    "email": ("email_sent",),
    "ad_audience": ("ad_impression",),
    "sales_call": ("call",),
    "direct_mail": ("direct_mail",),
}
RESPONSE_KINDS: Mapping[str, tuple[str, ...]] = {
    "email": ("email_open", "email_click"),
    "ad_audience": ("ad_click",),
    "sales_call": ("meeting",),
    "direct_mail": ("direct_mail_response",),
}
#: the hub's action channels (decision.actions[].channel) -> channels that can carry them
ACTION_CHANNELS: Mapping[str, tuple[str, ...]] = {
    "email": ("email",),
    "ads": ("ad_audience",),
    "ad_audience": ("ad_audience",),
    "phone": ("sales_call", "email"),
    "sales_call": ("sales_call", "email"),
    "direct_mail": ("direct_mail",),
}


def allowed_channels(
    action_channel: Sequence[str], email_opt_out: Sequence[bool], do_not_contact: Sequence[bool]
) -> np.ndarray:
    """(n, 4) bool: channels that may carry each row's action under its consent."""
    n = len(action_channel)
    out = np.zeros((n, len(CHANNELS)), dtype=bool)
    for i, ch in enumerate(action_channel):
        for c in ACTION_CHANNELS.get(ch, ()):
            out[i, CHANNELS.index(c)] = True
    out[np.asarray(email_opt_out, dtype=bool), CHANNELS.index("email")] = False
    out[np.asarray(do_not_contact, dtype=bool)] = False
    return out


def channel_counts(profiles: Sequence[Mapping[str, Any] | None]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) touches and responses per channel from profiles' all-time totals."""
    touches = np.zeros((len(profiles), len(CHANNELS)))
    responses = np.zeros_like(touches)
    for i, p in enumerate(profiles):
        total = (p or {}).get("total", {})
        for j, c in enumerate(CHANNELS):
            touches[i, j] = sum(total.get(k, 0) for k in TOUCH_KINDS[c])
            responses[i, j] = sum(total.get(k, 0) for k in RESPONSE_KINDS[c])
    return touches, np.minimum(responses, touches)


@dataclass
class ChannelModel:
    """Beta-Bernoulli per contact and channel with a population prior (see module docstring)."""

    prior_strength: float = 4.0
    seed: int = 0
    population_rate: np.ndarray = field(default_factory=lambda: np.full(len(CHANNELS), 0.2))

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng([self.seed, 77])

    def fit(self, touches: np.ndarray, responses: np.ndarray) -> ChannelModel:
        """Set the population's per-channel response rate (smoothed toward the old one)."""
        touches, responses = _clean(touches, responses)
        t, r = touches.sum(0), responses.sum(0)
        self.population_rate = (r + 10 * self.population_rate) / (t + 10)
        return self

    def choose(
        self, touches: np.ndarray, responses: np.ndarray, allowed: np.ndarray, *, sample: bool = True
    ) -> tuple[np.ndarray, list[str]]:
        """Channel index per row (-1 when none is allowed) and its name ("none")."""
        touches, responses = _clean(touches, responses)
        a = responses + self.prior_strength * self.population_rate
        b = (touches - responses) + self.prior_strength * (1 - self.population_rate)
        score = beta(self._rng, a, b) if sample else a / (a + b)
        idx = np.argmax(np.where(allowed, score, -1.0), axis=1)
        idx = np.where(allowed.any(axis=1), idx, -1)
        return idx, [CHANNELS[i] if i >= 0 else "none" for i in idx]


def _clean(touches: np.ndarray, responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts as rates need them: non-negative, and no more responses than touches (a meeting
    booked from a web form is a sales-call "response" without a call; counted raw, it would
    push a rate above 1 and the Beta parameters below 0)."""
    t = np.maximum(np.asarray(touches, dtype=float), 0.0)
    return t, np.clip(np.asarray(responses, dtype=float), 0.0, t)
