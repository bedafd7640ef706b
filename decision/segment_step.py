"""The engine's segment-value step (decision/segment_value.py) on the hub's own features and logs.

Deciding: each row's segment is read from columns the engine already has (the ``stage_*`` and
``seniority_*`` one-hots, the touches a person felt in 7 days (:func:`felt_touches`: e-mails
and sales calls), the e-mail opt-out or do-not-contact flag), and for the engine's own rows the segment values choose after the bandit, their
Thompson shares being the logged probabilities. Learning (hub/pipeline/learn.py): the segment at
decision time is logged in the decision's trace; when its window closes the row teaches the
segment values the reward the bandit learns, priced by :class:`~decision.segment_value.OutcomeValues`,
plus the change in stage value of a lead that moved on meanwhile (the store's stage now).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from decision.deal_value import DealValues, size_band
from decision.features import _SIZE_SCALE, SENIORITY, Features, _bucket, _stage_key, feature_names
from decision.interface import FEW_ROWS, ContactView
from decision.segment_value import (
    TOUCH_LEVELS,
    OutcomeValues,
    SegmentChooser,
    learning_target,
    progress_credit,
    segment_stage,
)
from hub.config import EMAIL_ACTION_KINDS

ROLES = (*SENIORITY, "individual", "unknown")
#: action kinds whose decisions send an e-mail: what ``email_sent`` activities count once synced
MAIL_ACTION_KINDS = EMAIL_ACTION_KINDS
#: action kinds whose decisions a person feels as a touch (an e-mail or a call; an ad audience is not)
FELT_ACTION_KINDS = (*MAIL_ACTION_KINDS, "sales_outreach")


def felt_touches(emails_sent: np.ndarray, calls: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """Touches a person felt in 7 days: the e-mails sent plus the sales calls the CRM shows, or
    the touching decisions ordered in that week when more (an order from yesterday may not be
    synced back yet; one carried out shows in both, so the larger count, not the sum).

    Why calls too: a call wears on a person like an e-mail does, so a segment that counted
    marketing mail only would see a contact called twice this week as untouched.

    >>> felt_touches(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([1.0, 2.0])).tolist()
    [2.0, 2.0]
    """
    return np.maximum(np.asarray(emails_sent, dtype=float) + np.asarray(calls, dtype=float), ordered)


#: the first stages of the vocabulary (subscriber, lead by default): where progression is credited
EARLY_STAGES = 2


class SegmentStep:
    """Segment values for one engine: the chooser, the outcome values and the learn cursor."""

    def __init__(
        self,
        names: Sequence[str],
        stages: Sequence[str],
        action_ids: Sequence[str],
        wait: int,
        objective,  # noqa: ANN001
        windows: Sequence[float] = (),
    ) -> None:
        self.stages = (*stages, "other", "unknown")
        self.known = tuple(stages)
        col = {n: j for j, n in enumerate(names)}
        self.stage_cols = np.array([col[f"stage_{s}"] for s in self.stages])
        self.role_cols = np.array([col[f"seniority_{r}"] for r in ROLES])
        self.onehot_cols = np.concatenate([self.stage_cols, self.role_cols])
        self.size_cols = (col["log_employees"], col["employees_missing"])
        self.ids = list(action_ids)
        self.chooser = SegmentChooser(len(self.stages), len(ROLES), len(self.ids), wait)
        self.outcomes = OutcomeValues(len(self.stages), objective.opportunity, objective.revenue, objective.unsubscribe)
        self.outcomes.deals = DealValues()  # an opportunity priced by its account's size band
        self.chooser.outcomes = self.outcomes  # values priced at the outcomes' current worth
        self.chooser.values.unsub_points = np.full(len(self.ids), float(objective.unsubscribe))
        if windows:  # a learned row's move spans its attribution window
            self.outcomes.step_days = float(np.mean(windows))
        self.weights = objective
        #: the store's position after the newest closed opportunity read (opaque here:
        #: hub/store/tail.py), and when contact-days were last counted
        self.cursor: tuple[int, int, tuple[int, ...]] = (0, 0, ())
        self.counted_at: datetime | None = None

    @classmethod
    def for_engine(cls, engine) -> SegmentStep:  # noqa: ANN001
        names = feature_names(engine.topics, engine.vocab)
        windows = [a.attribution_days for a in engine.entries]
        return cls(names, engine.vocab.stages, engine.ids, engine.wait_index, engine.settings.objective, windows)

    # -- deciding ------------------------------------------------------------------------------

    def segments(self, batch: Sequence[ContactView], F: Features, touches: np.ndarray) -> np.ndarray:
        """(n,) segment per row: a few column reads, no per-call table."""
        if len(batch) <= FEW_ROWS:  # a real-time batch: the same argmax and integer steps on Python numbers
            onehots = F.X.take(self.onehot_cols, axis=1).tolist()  # every row's stage and role columns, one gather
            rows = [self._segment_one(v, x, t) for v, x, t in zip(batch, onehots, touches.tolist(), strict=True)]
            if None not in rows:
                return np.array(rows, dtype=np.intp)
        stage = np.argmax(F.X[:, self.stage_cols], axis=1)
        role = np.argmax(F.X[:, self.role_cols], axis=1)
        consent = [v.contact.consent for v in batch]  # unreachable by e-mail, as the store counts it
        opted = np.fromiter((c.email_opt_out or c.do_not_contact for c in consent), dtype=bool, count=len(batch))
        return self.chooser.segments(stage, role, touches, opted)

    def _segment_one(self, view: ContactView, onehots: list[float], touches: float) -> int | None:
        """:func:`~decision.segment_value.segment_index` of one row from its :attr:`onehot_cols`
        (argmax: the first largest); None when a value is NaN (argmax's rules for it differ from
        ``max``) or the touches are negative (astype's integer of -inf is not Python's)."""
        if not touches >= 0 or sum(onehots) != sum(onehots):  # NaN somewhere (or inf - inf: the array path then)
            return None
        stages, roles = onehots[: len(self.stage_cols)], onehots[len(self.stage_cols) :]
        c = view.contact.consent
        t = int(min(touches, TOUCH_LEVELS - 1))  # as np.minimum, then astype's truncation
        st, ro = stages.index(max(stages)), roles.index(max(roles))
        return ((st * self.chooser.n_roles + ro) * TOUCH_LEVELS + t) * 2 + int(c.email_opt_out or c.do_not_contact)

    def bands(self, X: np.ndarray) -> np.ndarray:
        """(n,) company size band per row (decision/deal_value.py), from the features' employees."""
        emp = np.rint(np.expm1(X[:, self.size_cols[0]] * _SIZE_SCALE[0]))
        return size_band(np.where(X[:, self.size_cols[1]] > 0, np.nan, emp))

    @staticmethod
    def relief_days(batch: Sequence[ContactView], now: datetime, touching: set[str]) -> np.ndarray:
        """Per row, days until the oldest touching decision (``touching``: the ids of the actions
        :func:`felt_touches` counts) of the last 7 days leaves the week (1 when there is none):
        what waiting for one touch fewer costs."""
        out = np.ones(len(batch))
        for i, v in enumerate(batch):
            ages = [(now - at).total_seconds() / 86_400 for at, a in v.decided if a in touching]
            ages = [d for d in ages if 0 <= d < 7]
            if ages:
                out[i] = max(1.0, np.ceil(7 - max(ages)))
        return out

    def choose(
        self,
        segments: np.ndarray,
        prior_points: np.ndarray,
        mask: np.ndarray,
        touches: np.ndarray,
        relief: np.ndarray,
        rng: np.random.Generator,
        allowed: np.ndarray | None = None,
        free_share: float = 0.0,
        bands: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Actions, every action's probability and the explanation notes; the bandit's
        prediction in points is the prior; ``allowed`` / ``free_share`` / ``bands`` as
        :meth:`~decision.segment_value.SegmentChooser.choose`."""
        actions, probs, mean = self.chooser.choose(
            segments, prior_points, mask, touches, relief, rng, allowed, free_share, bands
        )
        notes = [
            self.chooser.note(int(s), int(a), float(mean[j, a]), self.label(int(s)))
            for j, (s, a) in enumerate(zip(segments, actions, strict=True))
        ]
        return actions, probs, notes

    def label(self, segment: int) -> str:
        """Words for a segment: ``lead, manager, 2 touches this week``."""
        n_roles = len(ROLES)
        opted = segment % 2
        touches = (segment // 2) % TOUCH_LEVELS
        role = (segment // (2 * TOUCH_LEVELS)) % n_roles
        stage = segment // (2 * TOUCH_LEVELS * n_roles)
        more = "+" if touches == TOUCH_LEVELS - 1 else ""
        t = f"{touches}{more} touch{'es' * (touches != 1 or bool(more))} this week"
        return f"{self.stages[stage]}, {ROLES[role]}, {t}" + (", opted out" if opted else "")

    # -- learning ------------------------------------------------------------------------------

    def stage_index(self, stage: str | None) -> int:
        return self.stages.index(_bucket(_stage_key(stage), self.known))

    def learn(
        self,
        segments: np.ndarray,
        actions: np.ndarray,
        parts: Sequence[dict[str, float] | None],
        values: np.ndarray,
        stage_now: Sequence[str | None],
        reachable_now: np.ndarray,
    ) -> int:
        """Learn finalized rows that logged a segment (``segments`` >= 0): the objective points
        of their weighted reward ``parts`` times each action's ``values`` (as the bandit learns
        them), priced and credited with their lead's progress."""
        keep = np.asarray(segments) >= 0
        if not keep.any():
            return 0
        w = self.weights
        seg, act = np.asarray(segments, dtype=np.intp)[keep], np.asarray(actions, dtype=np.intp)[keep]
        kept = [p or {} for p, k in zip(parts, keep, strict=True) if k]
        points = np.array([sum(p.values()) for p in kept]) * values[act]
        self.chooser.values.unsub_points = w.unsubscribe * np.asarray(values, dtype=float)  # as in ``points``
        count = lambda key, weight: np.array([p.get(key, 0.0) / weight if weight else 0.0 for p in kept])  # noqa: E731
        opps, unsubs = count("opportunity", w.opportunity), count("unsubscribe", w.unsubscribe)
        revenue = np.array([p.get("revenue", 0.0) for p in kept]) * values[act]
        stage, opted = segment_stage(seg, len(ROLES))
        now = np.array([self.stage_index(s) for s, k in zip(stage_now, keep, strict=True) if k], dtype=np.intp)
        now = np.where(now < len(self.known), now, stage)  # other / unknown now: no progress read
        reach = np.asarray(reachable_now, dtype=bool)[keep]
        self.outcomes.move(stage, opted, now, ~reach)
        gain = progress_credit(self.outcomes, stage, now, reach, EARLY_STAGES)
        self.chooser.values.learn(seg, act, points - revenue + gain, opps, unsubs)
        self.outcomes.observe(stage, opted, learning_target(self.outcomes, stage, points, opps, 0.0, revenue))
        return int(keep.sum())

    def close(self, amounts: np.ndarray, employees: np.ndarray) -> None:
        """Closed opportunities read from the store: each one's won amount (0 when lost) and its
        contact's company employees (NaN when unknown)."""
        amounts = np.asarray(amounts, dtype=float)
        self.outcomes.close(amounts, 0)  # a lost one is a closure that won 0
        self.outcomes.deals.close(size_band(employees), amounts)

    def count_contacts(self, by_stage: Sequence[tuple[str | None, bool, int]], now: datetime) -> None:
        """Add the contact-days since the last count: the store's contacts per stage and reach."""
        days = 1.0 if self.counted_at is None else max((now - self.counted_at).total_seconds() / 86_400, 0.0)
        self.counted_at = now
        out = np.zeros((len(self.stages), 2))
        for stage, reachable, n in by_stage:
            out[self.stage_index(stage), 0 if reachable else 1] += n * days
        self.outcomes.observe(np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), np.zeros(0), out)

    def state(self) -> dict[str, Any]:
        return {
            "values": self.chooser.state(),
            "outcomes": self.outcomes.state(),
            "cursor": [*self.cursor[:2], list(self.cursor[2])],
            "counted_at": self.counted_at.isoformat() if self.counted_at else None,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.chooser.load_state(state.get("values", {}))
        self.outcomes.load_state(state.get("outcomes", {}))
        self.cursor = _position(state.get("cursor", 0))
        at = state.get("counted_at")
        self.counted_at = datetime.fromisoformat(at) if at else None


def _position(saved: int | list) -> tuple[int, int, tuple[int, ...]]:
    """A saved learn cursor: a bare activity id, as snapshots before the store's migration 0019
    saved it, is the position (0, id, ()) there (rows stored before it have tx 0)."""
    if isinstance(saved, int):
        return (0, saved, ())
    tx, row_id, pending = saved
    return (int(tx), int(row_id), tuple(int(x) for x in pending))
