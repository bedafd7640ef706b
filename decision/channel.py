"""Best channel per contact: among the channels consent and the action allow, the one this
person answers best, each channel judged against its own base rate.

Why: the same action lands better on the channel a person prefers (an executive who takes
calls, a developer who reads email). What each channel shows as a response differs (an e-mail
open is common, a meeting after a call is rare), so raw response rates are not comparable: an
open rate beat a meeting rate for people who prefer calls, and a meeting rate beat an open rate
for people who prefer e-mail, so the channel chosen followed the outcome's base rate more than
the person (it hit people's preferred channel less often than always e-mail did). Comparable
instead is the person's *lift* on a channel: their response rate there over the population's
rate on the same channel, a Gamma-Poisson posterior with ``prior_responses`` pseudo-responses at
the population rate, so it is 1 without evidence and a rare outcome (a meeting) needs several
before it moves.

A cold start (every lift 1) takes the first allowed channel of ``order`` (e-mail first by
default: most people read it); a later channel takes over only where the contact's lift there is
at least ``switch_ratio`` times their lift on the channel chosen so far, so a contact leaves the
default only on clear evidence (a lone meeting from a hot lead says more about the lead than
about the telephone).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the channel names the hub writes to ``best_channel`` (hub/fields.py)
CHANNELS = ("email", "ad_audience", "sales_call", "direct_mail")
#: where evidence ties, the earlier channel wins (``decision.engine.channel_order``)
DEFAULT_ORDER = ("email", "sales_call", "ad_audience", "direct_mail")
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
    if n == 1:  # a real-time row: the same rules on Python booleans
        return np.array([_allowed_one(action_channel[0], email_opt_out[0], do_not_contact[0])])
    out = np.zeros((n, len(CHANNELS)), dtype=bool)
    for i, ch in enumerate(action_channel):
        for c in ACTION_CHANNELS.get(ch, ()):
            out[i, CHANNELS.index(c)] = True
    out[np.asarray(email_opt_out, dtype=bool), CHANNELS.index("email")] = False
    out[np.asarray(do_not_contact, dtype=bool)] = False
    return out


def _allowed_one(action_channel: str, email_opt_out: bool, do_not_contact: bool) -> list[bool]:
    """:func:`allowed_channels` of one row, as Python booleans."""
    if do_not_contact:
        return [False] * len(CHANNELS)
    can = ACTION_CHANNELS.get(action_channel, ())
    return [c in can and not (email_opt_out and c == "email") for c in CHANNELS]


def channel_counts(profiles: Sequence[Mapping[str, Any] | None]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) touches and responses per channel from profiles' all-time totals."""
    if len(profiles) == 1:  # a real-time row: Python sums, one array each
        t, r = _counts_one(profiles[0])
        return np.array([t]), np.array([r])
    touches = np.zeros((len(profiles), len(CHANNELS)))
    responses = np.zeros_like(touches)
    for i, p in enumerate(profiles):
        total = (p or {}).get("total", {})
        for j, c in enumerate(CHANNELS):
            touches[i, j] = sum(total.get(k, 0) for k in TOUCH_KINDS[c])
            responses[i, j] = sum(total.get(k, 0) for k in RESPONSE_KINDS[c])
    return touches, np.minimum(responses, touches)


#: profile kind -> its slot among a row's counts: channel j's touches at j, its responses at 4 + j
_SLOTS: Mapping[str, int] = {
    **{k: j for j, c in enumerate(CHANNELS) for k in TOUCH_KINDS[c]},
    **{k: len(CHANNELS) + j for j, c in enumerate(CHANNELS) for k in RESPONSE_KINDS[c]},
}
assert len(_SLOTS) == sum(len(TOUCH_KINDS[c]) + len(RESPONSE_KINDS[c]) for c in CHANNELS)  # one slot a kind


def _counts_one(profile: Mapping[str, Any] | None) -> tuple[list[float], list[float]]:
    """:func:`channel_counts` of one profile, as Python floats, in one pass over its totals: each
    slot adds its kinds from 0 as ``sum`` does (two kinds at most, whose order cannot matter)."""
    sums = [0] * (2 * len(CHANNELS))
    for kind, v in (profile or {}).get("total", {}).items():
        j = _SLOTS.get(kind)
        if j is not None:
            sums[j] += v
    t = [float(v) for v in sums[: len(CHANNELS)]]
    return t, [a if a < b else b for a, b in zip(t, map(float, sums[len(CHANNELS) :]), strict=True)]


@dataclass
class ChannelModel:
    """Per contact: the first channel of ``order`` unless a later one has ``switch_ratio`` x its lift.

    >>> touches = np.array([[40.0, 0, 2, 0], [40.0, 0, 8, 0], [0.0, 0, 0, 0]])
    >>> answers = np.array([[12.0, 0, 0, 0], [0.0, 0, 6, 0], [0.0, 0, 0, 0]])
    >>> m = ChannelModel().fit(touches, answers)
    >>> allowed = np.zeros((3, 4), dtype=bool); allowed[:, [0, 2]] = True
    >>> m.choose(touches, answers, allowed)[1]  # an opener, a caller who ignores mail, no evidence
    ['email', 'sales_call', 'email']
    """

    prior_responses: float = 3.0
    #: chosen on the tuning seeds 1000/1001 of bench/decision_quality.py (2 switched a little too often)
    switch_ratio: float = 3.0
    order: Sequence[str] = DEFAULT_ORDER
    population_rate: np.ndarray = field(default_factory=lambda: np.full(len(CHANNELS), 0.2))

    def __post_init__(self) -> None:
        unknown = [c for c in self.order if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channels in order: {unknown}; known: {list(CHANNELS)}")
        ranked = [*self.order, *(c for c in CHANNELS if c not in self.order)]
        #: column j: the channel ranked j-th
        self._ranked = np.array([CHANNELS.index(c) for c in ranked])
        self._ranked_list = self._ranked.tolist()

    def fit(self, touches: np.ndarray, responses: np.ndarray) -> ChannelModel:
        """Set the population's per-channel response rate (smoothed toward the old one)."""
        one = _clean_one(touches, responses) if len(touches) == 1 else None
        if one is not None:  # a real-time row: the same float steps on Python floats
            self._fit_rows([one])
            return self
        touches, responses = _clean(touches, responses)
        t, r = touches.sum(0), responses.sum(0)
        self.population_rate = (r + 10 * self.population_rate) / (t + 10)
        return self

    def lift(self, touches: np.ndarray, responses: np.ndarray) -> np.ndarray:
        """(n, 4) each person's response rate per channel over the population's (1: no evidence)."""
        touches, responses = _clean(touches, responses)
        base = np.minimum(np.maximum(self.population_rate, 1e-6), 1.0)  # np.clip's floats, no wrapper
        k = self.prior_responses
        return (responses + k) / (touches * base + k)

    def choose(self, touches: np.ndarray, responses: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Channel index per row (-1 when none is allowed) and its name ("none")."""
        one = _clean_one(touches, responses) if len(touches) == 1 else None
        if one is not None:  # a real-time row: the same floats and comparisons, no (1, 4) array calls
            i = self._pick(*one, self.population_rate.tolist(), np.asarray(allowed, dtype=bool)[0].tolist())
            return np.array([i]), [_NAMES[i]]
        lift = self.lift(touches, responses)[:, self._ranked]
        ok = np.asarray(allowed, dtype=bool)[:, self._ranked]
        n = len(lift)
        best = np.argmax(ok, axis=1)  # the first allowed channel of the order
        for j in range(1, lift.shape[1]):  # a later one takes over on switch_ratio x the lift
            beaten = ok[:, j] & (lift[:, j] >= self.switch_ratio * lift[np.arange(n), best])
            best = np.where(beaten, j, best)
        idx = np.where(ok.any(axis=1), self._ranked[best], -1)
        return idx, [_NAMES[i] for i in idx.tolist()]

    def fit_choose_rows(
        self,
        profiles: Sequence[Mapping[str, Any] | None],
        action_channels: Sequence[str],
        email_opt_out: Sequence[bool],
        do_not_contact: Sequence[bool],
    ) -> list[str] | None:
        """:meth:`fit` then :meth:`choose` of a few contacts (with :func:`channel_counts` and
        :func:`allowed_channels`) on Python numbers from their profiles to the channels' names,
        no (n, 4) arrays between the steps; None, having fitted nothing, when a count is NaN."""
        rows = [_clean_lists(*_counts_one(p)) for p in profiles]
        if None in rows:
            return None
        rate = self._fit_rows(rows)
        return [
            _NAMES[self._pick(t, r, rate, _allowed_one(c, o, d))]
            for (t, r), c, o, d in zip(rows, action_channels, email_opt_out, do_not_contact, strict=True)
        ]

    def _fit_rows(self, rows: Sequence[tuple[list[float], list[float]]]) -> list[float]:
        """:meth:`fit` of clean rows (the rows' sums added in row order, as numpy sums a few rows);
        returns the new population rate as Python floats."""
        t, r = rows[0]
        for rt, rr in rows[1:]:
            t, r = [a + b for a, b in zip(t, rt, strict=True)], [a + b for a, b in zip(r, rr, strict=True)]
        pop = self.population_rate.tolist()
        rate = [(b + 10 * p) / (a + 10) for a, b, p in zip(t, r, pop, strict=True)]
        self.population_rate = np.array(rate)
        return rate

    def _pick(self, t: list[float], r: list[float], rate: list[float], allowed: list[bool]) -> int:
        """:meth:`choose` of one row's clean counts, the population ``rate`` and the allowed
        channels: the channel index (-1: none). The first allowed channel of the order, unless a
        later allowed one has ``switch_ratio`` x the lift of the one chosen so far."""
        k, best, best_lift = self.prior_responses, -1, 0.0
        for j in self._ranked_list:
            if allowed[j]:
                p = rate[j]
                p = 1e-6 if p < 1e-6 else p  # min(max(p, 1e-6), 1.0), as comparisons
                p = 1.0 if p > 1.0 else p
                lift = (r[j] + k) / (t[j] * p + k)
                if best < 0 or lift >= self.switch_ratio * best_lift:
                    best, best_lift = j, lift
        return best


#: channel names by index, "none" at -1 (no channel allowed)
_NAMES = (*CHANNELS, "none")


def _clean_one(touches: np.ndarray, responses: np.ndarray) -> tuple[list[float], list[float]] | None:
    """:func:`_clean` of a single row as Python floats (the same max and min), None when a count
    is NaN (numpy's rules for it differ from Python's: the caller takes the array path)."""
    return _clean_lists(np.asarray(touches, dtype=float)[0].tolist(), np.asarray(responses, dtype=float)[0].tolist())


def _clean_lists(t: list[float], r: list[float]) -> tuple[list[float], list[float]] | None:
    """:func:`_clean_one` of Python lists; None also where a count is infinite (a finite sum has
    no NaN and no infinity; the array path takes those rare rows)."""
    if not math.isfinite(sum(t) + sum(r)):
        return None
    # Python's max(x, 0.0) and min(x, a) as comparisons (the builtins cost five times more)
    t = [0.0 if a < 0.0 else a for a in t]
    return t, [a if a < m else m for a, m in zip(t, [0.0 if b < 0.0 else b for b in r], strict=True)]


def _clean(touches: np.ndarray, responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts as rates need them: non-negative, and no more responses than touches (a meeting
    booked from a web form is a sales-call "response" without a call; counted raw, it would
    push a rate above 1)."""
    t = np.maximum(np.asarray(touches, dtype=float), 0.0)
    return t, np.minimum(np.maximum(np.asarray(responses, dtype=float), 0.0), t)  # np.clip's floats
