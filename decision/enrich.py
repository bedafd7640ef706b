"""What goes with a chosen action: when, on which channel, which content, and what it is worth.

The engine picks *what* to do; this module fills the fields that tell the MAP/CRM *how*:
``best_send_time`` (decision/send_time.py), ``best_channel`` (decision/channel.py),
``content_*`` (decision/content.py) and ``lead_score`` / ``conversion_probability`` /
``expected_value`` (the legacy points curve of decision/scoring, computed from the activity
profile so deciding never rescans history). It also maps contacts onto the coarse stages and
segments the long-term value and send-time models use. All of it is vectorized over the batch.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from decision.channel import ChannelModel, allowed_channels, channel_counts
from decision.content import SLOT_FIELDS, ContentSlots
from decision.features import DEPARTMENTS, Features
from decision.interface import FEW_ROWS
from decision.long_term import COARSE_STAGES
from decision.scoring.points import POINTS, points_probability
from decision.send_time import (
    ENGAGEMENT_WEIGHTS,
    OPEN_WEIGHTS,
    SEND_WEIGHTS,
    SendTimeModel,
    _daily,
    _hour_counts,
    _whole_hours,
    utc_offsets,
)
from hub.config import EMAIL_ACTION_KINDS, CatalogEntry, DecisionSettings
from hub.profile import DAY_SECONDS

#: hub lifecycle stages -> the coarse stage index of the long-term model
STAGE_MAP: Mapping[str, int] = {
    "subscriber": 0,
    "lead": 0,
    "marketingqualifiedlead": 1,
    "salesqualifiedlead": 2,
    "opportunity": 2,
    "customer": 3,
    "evangelist": 3,
}
EMAIL_KINDS = EMAIL_ACTION_KINDS
DEFAULT_DEAL_VALUE = 10_000.0


def coarse_stage(F: Features) -> np.ndarray:
    """Coarse stage per row from the ``stage_*`` one-hots (unknown and other count as early;
    where several are set, the last in :data:`STAGE_MAP` order wins)."""
    assert len(COARSE_STAGES) == 4
    cols, stages = _stage_columns(F)
    if not len(cols):
        return np.zeros(len(F.X), dtype=np.intp)
    if len(F.raw) == 1:  # a real-time row: the same choice on Python floats
        on = [j for j, v in enumerate(F.raw[0][cols].tolist()) if v > 0]
        return np.array([stages[on[-1]] if on else 0], dtype=np.intp)
    on = F.raw[:, cols] > 0
    last = len(cols) - 1 - on[:, ::-1].argmax(axis=1)
    return np.where(on.any(axis=1), stages[last], 0)


def _read_only(values: list[int]) -> np.ndarray:
    """Column positions (or stages) as a read-only index array: indexing by an array skips
    converting a list on every decision."""
    out = np.array(values, dtype=np.intp)
    out.flags.writeable = False
    return out


_NONE = _read_only([])

#: the last schema's stage columns: (its name index, columns, their coarse stages)
_STAGE_COLUMNS: list[tuple[dict[str, int] | None, np.ndarray, np.ndarray]] = [(None, _NONE, _NONE)]


def _stage_columns(F: Features) -> tuple[np.ndarray, np.ndarray]:
    """The ``stage_*`` columns in :data:`STAGE_MAP` order and their coarse stages, looked up once
    per schema (features from featurize share the cached schema's name index), not per decision."""
    index, cols, stages = _STAGE_COLUMNS[0]
    if index is not None and index is F.index:
        return cols, stages
    found_cols, found = [], []
    for name, s in STAGE_MAP.items():
        try:
            found_cols.append(F.position(f"stage_{name}"))
        except ValueError:  # a schema without this stage's column
            continue
        found.append(s)
    cols, stages = _read_only(found_cols), _read_only(found)
    _STAGE_COLUMNS[0] = (F.index, cols, stages)
    return cols, stages


_SEGMENT_COLUMNS = tuple(f"department_{d}" for d in (*DEPARTMENTS, "other", "unknown"))


def segment(F: Features) -> np.ndarray:
    """Department index per row (the send-time model's segment); unknown is its own segment."""
    index, cols = _SEGMENT_CACHE[0]
    if index is None or index is not F.index:
        cols = _read_only([F.position(n) for n in _SEGMENT_COLUMNS])
        _SEGMENT_CACHE[0] = (F.index, cols)
    if len(F.raw) == 1:  # a real-time row: the first largest, as argmax takes (one-hots: no NaN)
        row = F.raw[0][cols].tolist()
        return np.array([row.index(max(row))], dtype=np.intp)
    return F.raw[:, cols].argmax(axis=1)


#: the last schema's segment columns, as :data:`_STAGE_COLUMNS` (its name index, the columns)
_SEGMENT_CACHE: list[tuple[dict[str, int] | None, np.ndarray]] = [(None, _NONE)]


#: POINTS as (profile kind, window days, points each, cap)
_POINTS_BY_KIND = tuple(
    (name.rsplit("_", 1)[0], int(name.rsplit("_", 1)[1].rstrip("d")), each, cap) for name, each, cap in POINTS
)


def profile_points(profiles: Sequence[Mapping[str, Any] | None], now: datetime) -> np.ndarray:
    """The legacy points score (decision/scoring/points.py) from profiles' day buckets."""
    today = int(now.timestamp() // DAY_SECONDS)
    out = [0.0] * len(profiles)
    for i, p in enumerate(profiles):
        days = (p or {}).get("days")
        if not days:
            continue  # no history: 0 points
        total = 0.0
        for kind, w, each, cap in _POINTS_BY_KIND:
            counts = days.get(kind)
            if counts:  # a kind never seen adds min(each * 0, cap) = 0 points: skipped
                total += min(each * sum(c for d, c in counts.items() if 0 <= today - int(d) < w), cap)
        out[i] = total
    if len(out) == 1:  # a real-time row: np.clip's float on a Python float (NaN stays NaN)
        return np.array([min(max(out[0], 0.0), 100.0)])
    return np.minimum(np.maximum(np.array(out), 0.0), 100.0)  # np.clip's floats, without its wrapper


def _hours(
    profiles: Sequence[Mapping[str, Any] | None], timezones: Sequence[str | None], now: datetime
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Each contact's UTC offset, whether its zone is known, and its activity, opens and sends by
    local hour of week (the counts land in their local slots, no rotation after), and the
    activity by hour of day, from its profile. Opens and sends are None when no contact has any:
    the posterior's open-rate term is then zero, which it skips without looking for them."""
    off, known = utc_offsets(timezones, now)
    weightings = (ENGAGEMENT_WEIGHTS, OPEN_WEIGHTS, SEND_WEIGHTS)
    (local, opens, sends), counted = _hour_counts(profiles, weightings, _whole_hours(off.tolist()))
    if not (counted[1] or counted[2]):
        return off, known, local, None, None, _daily(local)
    return off, known, local, opens, sends, _daily(local)


@dataclass
class Extras:
    """Per row: the extra hub fields to push, and the send-time / channel detail for reports."""

    fields: list[dict[str, Any]]
    hour: np.ndarray
    channel: list[str]


class DecisionExtras:
    """Send time, channel, content and value fields for a batch of decided contacts."""

    def __init__(self, settings: DecisionSettings, entries: Sequence[CatalogEntry]) -> None:
        e = settings.engine
        self.entries = list(entries)
        self.enabled_send_time = e.send_time
        self.quiet_hours = e.quiet_hours
        self.seed = e.seed
        self.content = ContentSlots(settings.content, seed=e.seed)
        self.channel = ChannelModel(order=e.channel_order, switch_ratio=e.channel_switch_ratio)
        #: one send-time model per thread (the API decides in several), restarted per batch
        #: with that batch's seed instead of built anew
        self._local = threading.local()
        self._prior: dict[str, Any] | None = None
        self._prior_model: SendTimeModel | None = None

    @property
    def send_time_prior(self) -> dict[str, Any] | None:
        """The send-time prior the learn step fitted on recently decided contacts (a snapshot
        keeps it): every decision starts from it, so one contact gets the same send time from
        the API as from a decide batch. Until the first one, each batch is its own prior."""
        return self._prior

    @send_time_prior.setter
    def send_time_prior(self, prior: dict[str, Any] | None) -> None:
        model = None if prior is None else SendTimeModel(allowed_hours=self.quiet_hours).load_prior(prior)
        self._prior, self._prior_model = prior, model

    def _send_time_model(self) -> SendTimeModel:
        model = getattr(self._local, "send_time", None)
        if model is None:
            model = self._local.send_time = SendTimeModel(allowed_hours=self.quiet_hours, seed=self.seed)
        return model

    def learn_send_time(
        self, profiles: Sequence[Mapping[str, Any] | None], timezones: Sequence[str | None], F: Features, now: datetime
    ) -> int:
        """Fit :attr:`send_time_prior` on these contacts (the learn step's sample of recently
        decided ones); returns how many had activity to learn from."""
        _, _, local, _, _, daily = _hours(profiles, timezones, now)
        model = SendTimeModel(allowed_hours=self.quiet_hours, seed=self.seed).fit(local, segment(F), daily)
        self.send_time_prior = model.prior()
        return int(np.count_nonzero(daily.sum(axis=1)))

    def build(
        self,
        profiles: Sequence[Mapping[str, Any] | None],
        timezones: Sequence[str | None],
        email_opt_out: Sequence[bool],
        do_not_contact: Sequence[bool],
        F: Features,
        chosen: np.ndarray,
        now: datetime,
        *,
        send_time: np.ndarray | None = None,
        default_content: np.ndarray | None = None,
        points: np.ndarray | None = None,
        probability: np.ndarray | None = None,
    ) -> Extras:
        """``send_time`` (n,) bool: rows that get a best send time (all by default);
        ``default_content`` (n,) bool: rows pushed each slot's first variant instead of the
        bandit's (both for the impact arms of decision/experiment.py); ``points``: the rows'
        :func:`profile_points` when the caller has them, ``probability`` their
        :func:`~decision.scoring.points.points_probability`."""
        n = len(chosen)
        fields: list[dict[str, Any]] = [{} for _ in range(n)]
        entries = [self.entries[a] for a in chosen.tolist()]
        kinds = [e.kind for e in entries]
        acting = [k != "wait" for k in kinds]
        points = profile_points(profiles, now) if points is None else points
        prob = points_probability(points) if probability is None else probability
        hours = None
        if self.enabled_send_time and any(acting):
            off, known, local, opens, sends, daily = _hours(profiles, timezones, now)
            seg = segment(F)
            prior = self._prior_model
            model = self._send_time_model().restart(self.seed + int(now.timestamp()) % 9973, prior)
            if prior is None:
                model.fit(local, seg, daily)  # cold start: the batch is the prior for its segments
            st = model.choose(local, seg, now, off, known, opens=opens, sends=sends, daily=daily, zones=timezones)
            hours = st.hour
            timed = acting if send_time is None else [a and s for a, s in zip(acting, send_time.tolist(), strict=True)]
            if send_time is not None:
                hours = np.where(send_time, hours, -1)
            for i, (t, value) in enumerate(zip(timed, st.field_value, strict=True)):
                if t:
                    fields[i]["best_send_time"] = value
        if hours is None:
            hours = np.full(n, -1, dtype=np.int64)
        carriers = [e.channel if k != "wait" else "none" for e, k in zip(entries, kinds, strict=True)]
        names = None
        if n <= FEW_ROWS:  # a real-time batch: counts to channels on Python numbers
            names = self.channel.fit_choose_rows(profiles, carriers, email_opt_out, do_not_contact)
        if names is None:
            touches, responses = channel_counts(profiles)
            self.channel.fit(touches, responses)
            _, names = self.channel.choose(
                touches, responses, allowed_channels(carriers, email_opt_out, do_not_contact)
            )
        content = self.content.choose(n)
        if default_content is not None and default_content.any():
            rows = np.flatnonzero(default_content).tolist()
            for slot, variants in self.content.variants.items():
                values = content[SLOT_FIELDS[slot]]
                for i in rows:
                    values[i] = variants[0]
        points_l, prob_l = points.tolist(), prob.tolist()
        for i in range(n):
            fields[i]["lead_score"] = int(round(points_l[i]))
            fields[i]["conversion_probability"] = round(prob_l[i], 4)
            fields[i]["expected_value"] = round(prob_l[i] * DEFAULT_DEAL_VALUE, 2)
            if acting[i] and names[i] != "none":
                fields[i]["best_channel"] = names[i]
            if kinds[i] in EMAIL_KINDS:
                for fname, values in content.items():
                    fields[i][fname] = values[i]
        return Extras(fields, hours, names)
