"""Send-time optimization: each contact's own hour, inferred from when they are active.

Why this shape: one contact rarely has more than a handful of events, so a per-contact histogram
alone is noise, and its busiest hour is the noisiest one. The model instead treats each contact
as having one latent *centre* hour their day revolves around: every organic event (page view,
form, download) lands within a couple of hours of it (``spread_hours``; a large batch learns the
shape of that spread from its contacts), and an e-mail sent near it is opened more often
(``response_hours``). The posterior over the centre combines a prior from
the contact's *segment* (e.g. role or department; shrunk toward the *population* and, with no
data at all, the mid-morning convention) with the likelihood of the contact's own events and of
their opens and non-opens per send hour. The send hour maximizes the posterior-expected response;
a small Thompson term (a centre drawn from the posterior) keeps neighbouring hours tried.

Counts are kept in UTC hour-of-week (168 slots, hub/profile.py ``hours``) and rotated into
the contact's local week by its time zone. Contacts with at least ``min_week_events`` also get
the weekday where they are most active at the chosen hour; the rest get the hour of any day.

Everything is vectorized over the batch: the only per-row Python is formatting the output.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

HOURS_OF_WEEK = 168
#: activity kinds a person does at hours of their own choosing: where their day is. Opens and
#: clicks are NOT here: they happen at the hour we sent, so counting them would only confirm
#: past send times; they enter as a rate per send instead (``opens`` / ``sends`` in ``choose``).
ENGAGEMENT_WEIGHTS: Mapping[str, float] = {
    "page_view": 1.0,
    "form_submit": 1.0,
    "content_download": 1.0,
}
OPEN_WEIGHTS: Mapping[str, float] = {"email_open": 1.0}
SEND_WEIGHTS: Mapping[str, float] = {"email_sent": 1.0}


def hour_of_week(ts: float) -> int:
    """UTC hour of the week (Monday 00:00 = 0) of an epoch-seconds timestamp."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.weekday() * 24 + dt.hour


def profile_hour_counts(
    profiles: Sequence[Mapping[str, Any] | None], weights: Mapping[str, float] = ENGAGEMENT_WEIGHTS
) -> np.ndarray:
    """(n, 168) weighted engagement counts by UTC hour of week from profiles' ``hours``."""
    return profile_hour_counts_many(profiles, (weights,))[0]


def profile_hour_counts_many(
    profiles: Sequence[Mapping[str, Any] | None],
    weightings: Sequence[Mapping[str, float]],
    shifts: Sequence[int] | None = None,
) -> np.ndarray:
    """(w, n, 168): :func:`profile_hour_counts` for each weighting, in one pass over the profiles;
    with ``shifts`` (each row's whole-hour offset, :func:`_whole_hours`), already in local time
    (:func:`to_local` of the UTC counts, bit for bit: each count lands in its local slot)."""
    return _hour_counts(profiles, weightings, shifts)[0]


def _hour_counts(
    profiles: Sequence[Mapping[str, Any] | None],
    weightings: Sequence[Mapping[str, float]],
    shifts: Sequence[int] | None = None,
) -> tuple[np.ndarray, list[bool]]:
    """:func:`profile_hour_counts_many`, and per weighting whether any count went into it (a
    weighting with none is all zeros). One ``bincount`` adds the counts into their slots in
    turn from zero, as adding each into the array would, without two numpy item accesses per
    count (a real-time row's handful cost more that way than all the rest)."""
    n, week = len(profiles), HOURS_OF_WEEK
    slots: list[int] = []
    values: list[float] = []
    counted = [False] * len(weightings)
    for i, p in enumerate(profiles):
        hours = (p or {}).get("hours")
        if not hours:
            continue
        shift = 0 if shifts is None else shifts[i]
        for w_ix, weights in enumerate(weightings):
            row = (w_ix * n + i) * week
            for kind, w in weights.items():
                counts = hours.get(kind)
                if not counts:
                    continue
                counted[w_ix] = True
                for h, c in counts.items():
                    slots.append(row + (int(h) + shift) % week)
                    values.append(w * c)
    size = len(weightings) * n * week
    out = np.bincount(slots, weights=values, minlength=size) if slots else np.zeros(size)
    return out.reshape(len(weightings), n, week), counted


def utc_offsets(timezones: Sequence[str | None], now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """UTC offsets in minutes at ``now`` (Kolkata: 330) and a known-zone flag; unknown zones get 0."""
    off = np.zeros(len(timezones), dtype=np.int64)
    known = np.zeros(len(timezones), dtype=bool)
    cache: dict[str, int | None] = {}
    for i, tz in enumerate(timezones):
        if not tz:
            continue
        if tz not in cache:
            zone = _zone(tz)
            delta = now.astimezone(zone).utcoffset() if zone is not None else None
            cache[tz] = None if zone is None else int((delta or timedelta(0)).total_seconds() // 60)
        if cache[tz] is not None:
            off[i], known[i] = cache[tz], True
    return off, known


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    """The zone named ``name``; None for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _whole_hours(offsets_minutes: Sequence[int]) -> list[int]:
    """The whole-hour shift of the hour-of-week counts: the local hour holding the middle of each
    UTC hour (+05:30 reads 00:00-01:00 UTC as 06:00 local), as Python ints."""
    return [(int(o) + 30) // 60 for o in offsets_minutes]


def to_local(counts_utc: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Rotate (..., n, 168) UTC hour-of-week counts into each contact's local week (``offsets``
    in minutes, see :func:`_whole_hours`)."""
    n = counts_utc.shape[-2]
    hours = _whole_hours(np.asarray(offsets).tolist())
    if n == 1:  # a real-time row: the same gather by one cached index row
        return counts_utc[..., _rotation(hours[0])]
    src = (_HOURS[None, :] - np.array(hours, dtype=np.int64)[:, None]) % HOURS_OF_WEEK
    return counts_utc[..., np.arange(n)[:, None], src]


@functools.lru_cache(maxsize=64)
def _rotation(offset: int) -> np.ndarray:
    """The UTC hour of week each local hour of week reads at whole-hour ``offset`` (read-only)."""
    src = (_HOURS - offset) % HOURS_OF_WEEK
    src.flags.writeable = False
    return src


_HOURS = np.arange(HOURS_OF_WEEK)
_HOURS.flags.writeable = False


@functools.lru_cache(maxsize=16)
def _initial_state(seed: int) -> dict[str, Any]:
    """The bit generator state ``default_rng([seed, 2024])`` starts from (read-only use)."""
    return np.random.default_rng([seed, 2024]).bit_generator.state


#: the draws a one-row choice can take: its centre, and a weekday jitter per day
FIRST_DRAWS = 8


@functools.lru_cache(maxsize=16)
def _first_draws(seed: int) -> tuple[float, ...]:
    """The first :data:`FIRST_DRAWS` uniform draws of the stream :func:`_initial_state` starts."""
    rng = np.random.Generator(np.random.PCG64(0))
    rng.bit_generator.state = _initial_state(seed)
    return tuple(rng.random(FIRST_DRAWS).tolist())


class _Stream:
    """A seed's random stream, restarted per batch; a restart only notes the seed.

    Setting a generator's state costs more than all the draws of a real-time decision, which
    takes one to eight (:data:`FIRST_DRAWS`): those are read from the seed's cached first draws,
    and the generator is set, then moved past the draws read, only when a draw goes further.
    ``rng.random(k)`` takes k doubles in turn, so the numbers and their order are the same."""

    def __init__(self, seed: int) -> None:
        self._generator = np.random.Generator(np.random.PCG64(0))
        self.restart(seed)

    def restart(self, seed: int) -> None:
        self._seed, self._read = seed, 0  # _read: draws taken from _first_draws; None once set

    @property
    def generator(self) -> np.random.Generator:
        """The generator, where the draws so far left the stream."""
        if self._read is not None:
            self._generator.bit_generator.state = _initial_state(self._seed)
            if self._read:
                self._generator.random(self._read)
            self._read = None
        return self._generator

    def uniform(self, k: int) -> list[float]:
        """The next ``k`` draws of ``generator.random(k)``, as Python floats."""
        start = self._read
        if start is not None and start + k <= FIRST_DRAWS:
            self._read = start + k
            return list(_first_draws(self._seed)[start : start + k])
        return self.generator.random(k).tolist()


@functools.lru_cache(maxsize=8)
def _allowed(lo: int, hi: int) -> np.ndarray:
    hours = np.arange(24)
    out = (hours >= lo) & (hours <= hi)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=8)
def _convention(hour: int) -> np.ndarray:
    """Unnormalized circular bump around the conventional send hour (read-only)."""
    d = np.abs(np.arange(24) - hour)
    d = np.minimum(d, 24 - d)
    conv = np.exp(-0.5 * (d / 2.0) ** 2)
    conv.flags.writeable = False
    return conv


@functools.lru_cache(maxsize=8)
def _convention_prior(hour: int, strength: float) -> np.ndarray:
    """``strength`` pseudo-counts spread over the bump around ``hour`` (read-only): the same for
    every batch, so worked out once rather than per decision."""
    conv = _convention(hour)
    out = strength * conv / conv.sum()
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=8)
def _circular_kernel(width: float, size: int = 24) -> np.ndarray:
    """(size, size) column-normalized circular Gaussian smoothing (cached: read-only)."""
    k = _kernel(width, size)
    k.flags.writeable = False
    return k


@functools.lru_cache(maxsize=8)
def _log_spread(width: float) -> np.ndarray:
    """(24 hours, 24 centres) log P(an event at local hour h | centre c): a circular Gaussian
    of ``width`` hours with a small floor, so one stray event (a late-night login) cannot rule a
    centre out (read-only)."""
    k = _kernel(width, 24) + 0.02 / 24
    out = np.log(k / k.sum(axis=0, keepdims=True))
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=8)
def _response(width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(24 centres, 24 send hours) relative response to a send at hour h for centre c (a bump of
    ``width`` hours over a floor of half its height), that divided by its mean, and its log
    (read-only)."""
    d = np.abs(np.arange(24)[:, None] - np.arange(24)[None, :])
    d = np.minimum(d, 24 - d)
    g = 0.5 + np.exp(-((d / width) ** 2))
    rel = g / g.mean()
    out = (g, rel, np.log(rel))
    for a in out:
        a.flags.writeable = False
    return out


def _distinct(segments: np.ndarray) -> list[int]:
    """The sorted distinct segments, as ints (``np.unique`` costs ten times more on the one
    row of a real-time decision)."""
    return sorted({int(s) for s in segments.ravel().tolist()})


def _kernel(width: float, size: int) -> np.ndarray:
    d = np.abs(np.arange(size)[:, None] - np.arange(size)[None, :])
    d = np.minimum(d, size - d)
    k = np.exp(-0.5 * (d / width) ** 2) if width > 0 else (d == 0).astype(float)
    return k / k.sum(axis=0, keepdims=True)


@dataclass
class SendTimeChoice:
    """Per contact: local hour, local hour of week (-1 in hour-of-day mode), the next send
    instant (UTC), whether the hour-of-week model was used, and the value pushed to the CRM."""

    hour: np.ndarray
    slot: np.ndarray
    at: list[datetime]
    weekly: np.ndarray
    field_value: list[str]


@dataclass
class SendTimeModel:
    """Latent-centre send-time model (see the module docstring).

    ``segment_strength``: pseudo-events of population prior per segment. ``allowed_hours``:
    local hours a send may happen (quiet hours outside).
    """

    segment_strength: float = 50.0
    min_week_events: float = 40.0
    #: width (hours) of the segment histograms' smoothing: light, so that a segment whose people
    #: read at 8 or at 15 is not blurred into one reading at 11
    smooth_hours: float = 1.0
    #: how far (sd, hours) a person's activity strays from the centre of their day: a person
    #: active around 14:00 is seen at 11:00 one day and 16:00 the next
    spread_hours: float = 2.0
    #: a batch with at least this many contacts of two or more events learns the shape of that
    #: spread from them (EM over their centres, shrunk toward the Gaussian by ``spread_strength``
    #: pseudo-events); smaller batches (a real-time decision) keep the Gaussian
    spread_min_contacts: int = 100
    spread_strength: float = 50.0
    #: how fast (hours) an e-mail's open rate falls off away from the contact's centre hour
    response_hours: float = 2.0
    #: the segment histogram is the people's centres blurred by each one's spread; raising it to
    #: this power narrows it back toward a prior over centres (1.5: a Gaussian's variance / 1.5)
    prior_sharpen: float = 1.5
    allowed_hours: tuple[int, int] = (6, 21)
    #: with no data at all, the convention every MAP ships with: mid-morning local time
    convention_hour: int = 10
    convention_strength: float = 10.0
    #: pseudo-sends behind each contact's overall open rate (at 30%), which scales how much a
    #: send without an open counts against its hour
    rate_strength: float = 10.0
    #: weight of a Thompson draw (a centre sampled from the posterior) against the posterior-
    #: expected response: a little keeps neighbouring hours tried; more scatters sends for no gain
    exploration: float = 0.1
    seed: int = 0
    #: learned aggregates: local hour-of-day counts per segment and for everyone
    segment_counts: dict[int, np.ndarray] = field(default_factory=dict)
    population_counts: np.ndarray = field(default_factory=lambda: np.zeros(24))

    def __post_init__(self) -> None:
        #: (population counts, prior settings, {segment: (its counts, its share row)}), see
        #: :meth:`_share_rows`
        self._share_cache: tuple[np.ndarray, tuple, dict] | None = None
        self._stream = _Stream(self.seed)
        #: (the prior model, its segment dict, its population and spread arrays, the copy of
        #: its segment dict taken) when this model's aggregates are that prior's, see :meth:`restart`
        self._held: tuple | None = None
        self._kernel = _circular_kernel(self.smooth_hours)
        self._allowed = _allowed(*self.allowed_hours)
        self._log_spread = _log_spread(self.spread_hours)

    @property
    def _rng(self) -> np.random.Generator:
        return self._stream.generator

    def restart(self, seed: int, prior: SendTimeModel | None = None) -> SendTimeModel:
        """This model as if built afresh with ``seed``: no aggregates (``prior``'s, loaded as
        :meth:`load_prior` does), the seed's random stream (:class:`_Stream`: reset, not seeded
        anew, which a real-time decision would otherwise pay per call). Aggregates already
        loaded from ``prior`` and unchanged since are kept: every real-time decision restarts
        from the same prior."""
        self.seed = seed
        self._stream.restart(seed)
        if prior is None:
            self.segment_counts = {}
            self.population_counts = np.zeros(24)
            self._log_spread = _log_spread(self.spread_hours)
        elif not self._holds(prior):
            self.load_prior(prior)
        return self

    def _holds(self, prior: SendTimeModel) -> bool:
        """Whether the aggregates are still those loaded from ``prior`` (aggregates are replaced,
        never changed in place: :meth:`fit` replaces the population counts of the model it fits)."""
        held = self._held
        return (
            held is not None
            and held[0] is prior
            and held[1] is prior.segment_counts
            and held[2] is prior.population_counts is self.population_counts
            and held[3] is prior._log_spread is self._log_spread
            and held[4] is self.segment_counts
        )

    def prior(self) -> dict[str, Any]:
        """The learned aggregates, JSON-safe: hour counts per segment and for everyone, and the
        spread's shape by hour from the centre. A model snapshot keeps them so that every decision
        (a decide batch, a real-time one, ``hub evaluate``'s replay) starts from one prior."""
        return {
            "segments": {str(s): c.tolist() for s, c in self.segment_counts.items()},
            "population": self.population_counts.tolist(),
            "spread": self._log_spread[:, 0].tolist(),  # [h, c=0]: log share at offset h
        }

    def load_prior(self, prior: Mapping[str, Any] | SendTimeModel) -> SendTimeModel:
        """Start from :meth:`prior`'s aggregates instead of fitting a batch; or from another
        model's, shared (fitting never changes an aggregate array in place), which saves a
        real-time decision parsing the same prior each time."""
        if isinstance(prior, SendTimeModel):
            self.segment_counts = dict(prior.segment_counts)
            self.population_counts, self._log_spread = prior.population_counts, prior._log_spread
            segments = prior.segment_counts
            self._held = (prior, segments, self.population_counts, self._log_spread, self.segment_counts)
            return self
        self.segment_counts = {int(s): np.asarray(c, dtype=float) for s, c in prior["segments"].items()}
        self.population_counts = np.asarray(prior["population"], dtype=float)
        offset = (_HOURS[:24, None] - _HOURS[None, :24]) % 24
        self._log_spread = np.asarray(prior["spread"], dtype=float)[offset]
        return self

    def fit(self, local_counts: np.ndarray, segments: np.ndarray, daily: np.ndarray | None = None) -> SendTimeModel:
        """Add (n, 168) local counts to the segment and population aggregates (``daily``: their
        :func:`_daily` sums when the caller has them)."""
        day = _daily(local_counts) if daily is None else daily
        segments = np.asarray(segments)
        self.population_counts = self.population_counts + day.sum(axis=0)
        for s in _distinct(segments):
            prev = self.segment_counts.get(s, np.zeros(24))
            self.segment_counts[s] = prev + day[segments == s].sum(axis=0)
        rich = np.add.reduce(day, axis=1) >= 2
        if np.count_nonzero(rich) >= self.spread_min_contacts:
            self._learn_spread(day[rich], segments[rich])
        return self

    def _learn_spread(self, day: np.ndarray, segments: np.ndarray, iterations: int = 5) -> None:
        """Learn how activity scatters around a person's centre from contacts with a few events
        each: alternate their posterior centres and the histogram of event hour minus centre
        (EM on the marginal likelihood). People's days are not Gaussian (a flat working block,
        a lunch gap), and the right shape tells one event from another (0.873 vs 0.859 timing
        in bench/results/decision_quality_2000_sendhour.txt)."""
        log_k = _log_spread(self.spread_hours)
        prior = self.log_prior(segments)
        start = self.spread_strength * np.exp(log_k[:, 0])  # the Gaussian, by offset hour - centre
        offset = (_HOURS[:24, None] - _HOURS[None, :24]) % 24  # [h, c]: h - c
        for _ in range(iterations):
            lp = prior + day @ log_k
            post = np.exp(lp - lp.max(axis=1, keepdims=True))
            post /= post.sum(axis=1, keepdims=True)
            by_hc = day.T @ post  # [h, c]: expected events at hour h from people centred at c
            shape = np.bincount(offset.ravel(), weights=by_hc.ravel(), minlength=24) + start
            shape = shape / shape.sum() + 0.02 / 24  # the same floor as the Gaussian's
            log_k = np.log(shape / shape.sum())[offset]
        self._log_spread = log_k

    def prior_shares(self, segments: np.ndarray) -> np.ndarray:
        """(n, 24) hour shares of each contact's segment, shrunk toward the population.

        A segment's row is kept while the aggregates it was computed from are the same arrays
        (they are replaced, never changed in place): every decision that starts from the learned
        prior (:meth:`load_prior`) reads rows computed once per prior, not two products each."""
        segments = np.asarray(segments).ravel()
        uniq = _distinct(segments)
        rows = self._segment_rows(uniq)
        if len(uniq) == 1:
            return np.repeat(rows[uniq[0]][1][None], len(segments), axis=0)
        table = np.array([rows[s][1] for s in uniq])
        row = {s: j for j, s in enumerate(uniq)}
        return table[[row[s] for s in segments.tolist()]]

    def log_prior(self, segments: np.ndarray) -> np.ndarray:
        """(n, 24) ``prior_sharpen * log(prior_shares(segments))``, the posterior's prior term;
        for one contact the row kept beside its shares (read-only), not the log of a new copy."""
        segments = np.asarray(segments).ravel()
        if len(segments) != 1:
            return self.prior_sharpen * np.log(self.prior_shares(segments))
        s = int(segments[0])
        return self._segment_rows([s])[s][2]

    def _segment_rows(self, uniq: list[int]) -> dict[int, tuple[np.ndarray | None, np.ndarray, np.ndarray]]:
        """:meth:`_share_rows` with the rows of the segments ``uniq`` computed where stale."""
        rows = self._share_rows()
        pop_share = None
        for s in uniq:
            counts = self.segment_counts.get(s)
            hit = rows.get(s)
            if hit is not None and hit[0] is counts:
                continue
            if pop_share is None:
                pop = (
                    self._kernel @ self.population_counts
                    + _convention_prior(self.convention_hour, self.convention_strength)
                    + 0.1
                )
                pop_share = pop / pop.sum()
            seg = self._kernel @ (np.zeros(24) if counts is None else counts)
            share = (seg + self.segment_strength * pop_share) / (seg.sum() + self.segment_strength)
            log_row = self.prior_sharpen * np.log(share[None])
            log_row.flags.writeable = False
            rows[s] = (counts, share, log_row)
        return rows

    def _share_rows(self) -> dict[int, tuple[np.ndarray | None, np.ndarray, np.ndarray]]:
        """Segment -> (the counts its row was computed from, the row, its :meth:`log_prior`),
        for the current population counts and prior settings (a new dict when either changed)."""
        key = (
            self.smooth_hours,
            self.convention_hour,
            self.convention_strength,
            self.segment_strength,
            self.prior_sharpen,
        )
        cached = self._share_cache
        if cached is None or cached[0] is not self.population_counts or cached[1] != key:
            cached = self._share_cache = (self.population_counts, key, {})
        return cached[2]

    def posterior(
        self,
        local_counts: np.ndarray,
        segments: np.ndarray,
        opens: np.ndarray | None = None,
        sends: np.ndarray | None = None,
        daily: np.ndarray | None = None,
    ) -> np.ndarray:
        """(n, 24) posterior probability of each local hour being the contact's centre."""
        day = _daily(local_counts) if daily is None else daily
        log_post = self.log_prior(segments) + day @ self._log_spread
        # no opens and no sends: the term below is zero everywhere (exactly: 0 times finite)
        if opens is not None and (opens.any() or (sends is not None and sends.any())):
            o = _daily(opens)
            t = o if sends is None else np.maximum(_daily(sends), o)
            _, rel, log_rel = _response(self.response_hours)
            k = self.rate_strength
            rate = (o.sum(1, keepdims=True) + k * 0.3) / (t.sum(1, keepdims=True) + k)
            # Bernoulli opens at rate x rel[c, h]: log(rate x rel) per open, and (to first order)
            # -rate x rel per send left unopened; the log(rate) terms are the same for every centre
            log_post += o @ log_rel.T - rate * ((t - o) @ rel.T)
        post = np.exp(log_post - _row_max(log_post))
        return post / np.add.reduce(post, axis=1, keepdims=True)

    def choose(
        self,
        local_counts: np.ndarray,
        segments: np.ndarray,
        now: datetime,
        offsets: np.ndarray,
        known_tz: np.ndarray | None = None,
        *,
        opens: np.ndarray | None = None,
        sends: np.ndarray | None = None,
        sample: bool = True,
        daily: np.ndarray | None = None,
        zones: Sequence[str | None] | None = None,
    ) -> SendTimeChoice:
        """The next send slot per contact (``sample=False``: no Thompson term).

        ``local_counts``: (n, 168) organic activity by local hour of week. ``offsets``: UTC
        offsets in minutes (:func:`utc_offsets`). ``opens`` / ``sends`` (n, 168, optional):
        e-mail opens and sends by local hour of week: an open rate per send, so opens at the
        hour we always sent do not confirm it by their number alone. ``daily``: the
        :func:`_daily` sums of ``local_counts`` when the caller has them. ``zones``: the
        contacts' IANA zones, so the send is the chosen hour on their clock on the day it
        happens (a DST change in between moves the offset); without them, ``offsets`` hold.

        The pushed value is that instant in the contact's offset then. A contact whose zone is
        not known gets the hour on the UTC clock its activity was seen on, quiet hours read in
        UTC, pushed as a UTC instant: every connector writes an instant as is, while a bare hour
        is read in the portal's or org's zone, hours from when the person was seen active.
        """
        n = len(local_counts)
        post = self.posterior(local_counts, segments, opens, sends, daily)
        g = _response(self.response_hours)[0]
        score = post @ g
        # a real-time row with finite scores (argmax's rules for NaN: the array path)
        if n == 1 and math.isfinite(sum(score[0].tolist())):
            known = True if known_tz is None else bool(known_tz[0])
            zone = _clock(zones[0] if zones is not None else None, int(offsets[0]), known)
            return self._choose_one(post[0], score, local_counts, now, zone, sample)
        if sample and self.exploration > 0:
            u = self._rng.random((n, 1))
            centre = np.minimum((np.cumsum(post, axis=1) < u).sum(axis=1), 23)
            score += self.exploration * (g[centre] - score)
        hour = np.argmax(np.where(self._allowed, score, -1.0), axis=1)
        weekly = local_counts.sum(axis=1) >= self.min_week_events
        slot = np.full(n, -1, dtype=np.int64)
        if weekly.any():
            # the weekday whose smoothed activity at the chosen hour is highest
            rows = np.flatnonzero(weekly)
            cols = np.arange(7)[None, :] * 24 + hour[rows, None]
            day_counts = np.asarray(local_counts, dtype=float)[rows[:, None], cols]
            day = np.argmax(day_counts + self._rng.random(day_counts.shape) * 1e-6, axis=1)
            slot[rows] = day * 24 + hour[rows]
        known = np.ones(n, dtype=bool) if known_tz is None else np.asarray(known_tz, dtype=bool)
        names = [None] * n if zones is None else zones
        clocks = [_clock(z, o, k) for z, o, k in zip(names, np.asarray(offsets).tolist(), known.tolist(), strict=True)]
        at = next_instants(now, hour, slot, clocks)
        values = [local_iso(a, c) for a, c in zip(at, clocks, strict=True)]
        return SendTimeChoice(hour.astype(np.int64), slot, at, weekly, values)

    def _choose_one(
        self,
        post: np.ndarray,
        score: np.ndarray,
        local_counts: np.ndarray,
        now: datetime,
        clock: str | int,
        sample: bool,
    ) -> SendTimeChoice:
        """:meth:`choose` of one row with finite (1, 24) scores: the same draws in the same order
        and the same array steps, but the drawn centre found on Python floats (cumsum's running
        sums, bisected) and the weekday and send instant on Python numbers. On 24 hours a
        ufunc costs less than a Python loop; a draw, a cumsum and a count cost more."""
        if sample and self.exploration > 0:
            (u0,) = self._stream.uniform(1)
            # the running sums of a NaN-free posterior never fall: those below u0 come first
            below = bisect.bisect_left(list(itertools.accumulate(post.tolist())), u0)
            score += self.exploration * (_response(self.response_hours)[0][min(below, 23)] - score)
        hour = np.argmax(np.where(self._allowed, score, -1.0), axis=1).astype(np.int64, copy=False)
        h = int(hour[0])
        weekly = np.add.reduce(local_counts, axis=1) >= self.min_week_events
        slot = -1
        if weekly[0]:  # the weekday whose activity at the chosen hour is highest
            counts = np.asarray(local_counts, dtype=float)[0, h::24].tolist()
            jitter = self._stream.uniform(7)
            day_counts = [c + r * 1e-6 for c, r in zip(counts, jitter, strict=True)]
            slot = day_counts.index(max(day_counts)) * 24 + h
        at = _next_instant(_next_hour(now), h, slot, clock)
        return SendTimeChoice(hour, np.array([slot], dtype=np.int64), [at], weekly, [local_iso(at, clock)])


def _row_max(a: np.ndarray) -> np.ndarray | float:
    """``a.max(axis=1, keepdims=True)`` for what it is subtracted from ``a``; one row's as a
    Python float (the same differences: a NaN anywhere makes the normalized row all NaN either
    way, though Python's max may skip it)."""
    if len(a) == 1:
        return max(a[0].tolist())
    return np.maximum.reduce(a, axis=1, keepdims=True)


def _clock(zone: str | None, offset: int, known: bool) -> str | int:
    """The clock a contact's send hour is read on: its zone's name when known and valid, else
    its fixed offset in minutes (0, UTC, for an unknown zone)."""
    if not known:
        return 0
    return zone if zone and _zone(zone) is not None else offset


@functools.lru_cache(maxsize=1024)
def local_iso(at: datetime, clock: str | int) -> str:
    """``at`` written in the contact's offset at that instant, e.g. ``2026-03-02T14:00:00+05:30``
    (``clock``: a zone name or a fixed offset in minutes; cached: within an hour, every decision
    sends at one of a few dozen instants)."""
    return at.astimezone(_tz(clock)).isoformat()


def _tz(clock: str | int) -> tzinfo:
    return (_zone(clock) or UTC) if isinstance(clock, str) else _fixed_zone(clock)


@functools.lru_cache(maxsize=64)
def _fixed_zone(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=int(offset_minutes)))


def _daily(counts168: np.ndarray) -> np.ndarray:
    """(n, 24) counts by hour of day (``.sum(axis=1)``'s reduction, without its wrapper)."""
    return np.add.reduce(np.asarray(counts168, dtype=float).reshape(len(counts168), 7, 24), axis=1)


def next_instants(now: datetime, hour: np.ndarray, slot: np.ndarray, clocks: Sequence[str | int]) -> list[datetime]:
    """The next UTC instant after ``now`` (+1 hour lead) at each contact's local hour (or local
    hour of week where ``slot >= 0``) on its clock (a zone name or an offset in minutes)."""
    base = _next_hour(now)
    return [_next_instant(base, h, s, c) for h, s, c in zip(hour.tolist(), slot.tolist(), clocks, strict=True)]


def _next_hour(now: datetime) -> datetime:
    """The UTC hour after ``now``'s, the earliest send (a naive ``now`` is UTC); built from its
    fields, a third of ``replace(minute=0, ...)``'s cost."""
    u = now.astimezone(UTC) if now.tzinfo else now
    return datetime(u.year, u.month, u.day, u.hour, tzinfo=UTC) + _ONE_HOUR


_ONE_HOUR = timedelta(hours=1)


@functools.lru_cache(maxsize=8192)
def _next_instant(base: datetime, hour: int, slot: int, clock: str | int) -> datetime:
    """The first instant from ``base`` at wall-clock ``hour`` (or at hour of week ``slot``) on
    ``clock``, in UTC; the date's own offset is used, so a DST change before the send counts
    (cached: per hour, a batch asks for a few zones and hours)."""
    tz = _tz(clock)
    local = base.astimezone(tz)
    hour = slot % 24 if slot >= 0 else hour
    first = (slot // 24 - local.weekday()) % 7 if slot >= 0 else 0
    step = 7 if slot >= 0 else 1
    for days in range(first, first + 3 * step, step):
        at = datetime.combine(local.date() + timedelta(days=days), time(hour), tzinfo=tz).astimezone(UTC)
        if at >= base:
            return at
    raise AssertionError("unreachable: a wall-clock hour recurs within two days or weeks")
