"""Segment values: what each action has earned in each segment, learned from outcomes, as a
check on the bandit's extrapolation and as the place future value is priced.

Why: the linear bandit fits each action on the rows it was taken on. Sales outreach is taken on
hot leads (the rules' MQLs), so for a cold contact its prediction is an extrapolation, and on
the sandbox it read about -18 points for decision-stage contacts whose true value was +3 to +6;
the engine then sent ad retargeting (worth ~0) instead of calling them. A table of running
means per (segment, action), with the segment a few columns any CRM shows (lifecycle stage,
role, touches in the last 7 days, opted out), cannot extrapolate: a cell it has seen is its mean,
a cell it has not is the bandit's prediction (shrunk toward it with ``prior_rows``
pseudo-observations). The touches bucket makes contact pressure part of the segment, so the
learned value of one more mail to someone touched three times this week is what such mails
earned, unsubscribes included: cadence is learned, not set.

Non-myopic terms, each learned from outcomes (never from the simulator's truth):

- an opportunity is worth its objective points plus the won revenue an opportunity has brought
  so far (:class:`OutcomeValues.opportunity_points`): mean won amount per closed opportunity x
  the revenue weight, so a learner that sees only "opportunity created" today still prices the
  deal it may close in two months;
- an unsubscribe costs its points plus the contact's lost future: the learned reward per day of
  reachable contacts minus that of opted-out ones in the same stage, over ``horizon_days``
  (:class:`OutcomeValues.unsubscribe_points`);
- a lead moved on is worth what its new stage is learned to earn (:meth:`OutcomeValues.stage_values`):
  a caller credits each early-stage row with the change in stage value weeks later
  (:meth:`SegmentValues.credit`); waits get it too, so an action is credited only for the
  progress it adds over leaving the lead alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SegmentValues:
    """Running mean and variance of the learned reward per (segment, action), with forgetting.

    >>> sv = SegmentValues(n_segments=2, n_actions=2, prior_rows=1.0)
    >>> sv.learn(np.array([0, 0, 0]), np.array([1, 1, 1]), np.array([3.0, 3.0, 3.0]))
    >>> mean, sd = sv.posterior(np.array([0, 1]), np.zeros((2, 2)))
    >>> mean.round(2).tolist()
    [[0.0, 2.25], [0.0, 0.0]]
    """

    n_segments: int
    n_actions: int
    #: pseudo-rows of the bandit's prediction in each cell: a cell with few rows leans on it
    prior_rows: float = 20.0
    #: forgetting: each row's weight halves after this many further rows of its action (None: never)
    half_life: float | None = None
    #: prior noise variance of one row's reward, used until a cell has its own
    noise_variance: float = 1.0
    n: np.ndarray = field(init=False)
    s: np.ndarray = field(init=False)
    ss: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_segments, self.n_actions)
        self.n, self.s, self.ss = np.zeros(shape), np.zeros(shape), np.zeros(shape)

    def learn(self, segments: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        seg, act = np.asarray(segments, dtype=np.intp), np.asarray(actions, dtype=np.intp)
        y = np.asarray(rewards, dtype=float)
        if self.half_life is not None and len(act):
            rows = np.bincount(act, minlength=self.n_actions).astype(float)
            factor = 0.5 ** (rows / self.half_life)
            self.n *= factor
            self.s *= factor
            self.ss *= factor
        np.add.at(self.n, (seg, act), 1.0)
        np.add.at(self.s, (seg, act), y)
        np.add.at(self.ss, (seg, act), y * y)

    def credit(self, segments: np.ndarray, actions: np.ndarray, values: np.ndarray) -> None:
        """Add a delayed part of rows already learned (e.g. the value of a stage reached weeks
        later) to their cells' sums, without counting them again."""
        seg, act = np.asarray(segments, dtype=np.intp), np.asarray(actions, dtype=np.intp)
        np.add.at(self.s, (seg, act), np.asarray(values, dtype=float))

    def noise(self) -> np.ndarray:
        """(segments, actions) variance of one row's reward: the cell's own, shrunk toward the
        action's pooled variance (and that toward ``noise_variance``) by 5 pseudo-rows."""
        tot_n, tot_s, tot_ss = self.n.sum(0), self.s.sum(0), self.ss.sum(0)
        pooled_mean = np.divide(tot_s, tot_n, out=np.zeros_like(tot_s), where=tot_n > 0)
        pooled = (np.maximum(tot_ss - tot_n * pooled_mean**2, 0.0) + 5 * self.noise_variance) / (tot_n + 5)
        mean = np.divide(self.s, self.n, out=np.zeros_like(self.s), where=self.n > 0)
        own = np.maximum(self.ss - self.n * mean**2, 0.0)
        return (own + 5 * pooled[None, :]) / (self.n + 5)

    def posterior(self, segments: np.ndarray, prior_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, actions) mean and standard deviation of each action's value for rows in
        ``segments``: the cell's rows plus ``prior_rows`` rows at ``prior_mean`` (the bandit's
        prediction for that row)."""
        seg = np.asarray(segments, dtype=np.intp)
        n, s = self.n[seg], self.s[seg]
        k = self.prior_rows
        mean = (s + k * np.asarray(prior_mean, dtype=float)) / (n + k)
        sd = np.sqrt(self.noise()[seg] / (n + k))
        return mean, sd

    def choose(
        self,
        segments: np.ndarray,
        prior_mean: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator,
        exploration: float = 1.0,
        later: tuple[np.ndarray, int, float | np.ndarray] | None = None,
    ) -> np.ndarray:
        """Thompson choice per row among the allowed actions (the posterior is normal).

        ``later = (segments_later, wait, discount)``: waiting is worth at least ``discount`` (per
        row or one for all) x
        the best an allowed action is learned to earn in the segment waiting leads to (one touch
        fewer in the week; -1 where waiting changes nothing): a one-step backup over contact
        pressure, so a call to a contact touched three times this week competes with the same
        call a few days later, not with doing nothing."""
        mean, sd = self.posterior(segments, prior_mean)
        if later is not None:
            seg_later, wait, discount = later
            rows = np.flatnonzero(np.asarray(seg_later) >= 0)
            if len(rows):
                m_later, _ = self.posterior(np.asarray(seg_later)[rows], np.asarray(prior_mean)[rows])
                best = np.max(np.where(mask[rows], m_later, -np.inf), axis=1)
                disc = np.broadcast_to(np.asarray(discount, dtype=float), (len(mean),))[rows]
                mean[rows, wait] = np.maximum(mean[rows, wait], disc * best)
        draw = mean + exploration * sd * rng.standard_normal(mean.shape)
        return np.argmax(np.where(mask, draw, -np.inf), axis=1)


@dataclass
class OutcomeValues:
    """Future value the immediate reward misses, learned from what the CRM shows.

    ``opportunity_points`` is the objective's opportunity weight plus ``revenue_weight`` x the
    mean won amount per closed opportunity seen so far (lost ones count as 0).
    ``stage_values`` per stage and reachability is what a contact goes on to earn: the reward it
    earned in the ``window_days`` after a day in that stage, plus ``bootstrap`` x the learned value
    of where it stood at the window's end (a temporal-difference target, so a lead's progression
    to a sales call months later counts; the horizon is about ``window_days / (1 - bootstrap)``),
    shrunk toward 0 by ``prior_days`` contact-days. ``unsubscribe_points`` per stage is the
    objective's unsubscribe weight minus the value a reachable contact has over an opted-out one.

    >>> ov = OutcomeValues(n_people=2, n_stages=1, opportunity_weight=50.0, revenue_weight=0.001,
    ...     unsubscribe_weight=-30.0)
    >>> ov.close(won_amounts=np.array([20_000.0]), n_lost=1)
    >>> ov.opportunity_points()
    60.0
    """

    n_people: int
    n_stages: int
    opportunity_weight: float
    revenue_weight: float
    unsubscribe_weight: float
    window_days: int = 42
    bootstrap: float = 0.5
    prior_days: float = 200.0
    won: float = 0.0
    closed: float = 0.0
    returns: np.ndarray = field(init=False)  # (stages, 2): summed returns, [reachable, opted out]
    days: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.returns = np.zeros((self.n_stages, 2))
        self.days = np.zeros((self.n_stages, 2))
        self._cum = np.zeros(self.n_people)
        self._past: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def close(self, won_amounts: np.ndarray, n_lost: int) -> None:
        """Record closed opportunities: the amounts of the won ones and how many were lost."""
        self.won += float(np.sum(won_amounts))
        self.closed += len(won_amounts) + int(n_lost)

    def day(self, stages: np.ndarray, opted_out: np.ndarray, rewards: np.ndarray) -> None:
        """One day of every contact: stage and opted out at the start of the day, and the reward
        it earned that day (0 when nothing was done). Days ``window_days`` old become returns."""
        self._past.append((np.asarray(stages, dtype=np.intp), np.asarray(opted_out, dtype=np.intp), self._cum.copy()))
        self._cum = self._cum + np.asarray(rewards, dtype=float)
        if len(self._past) >= self.window_days:
            st, opted, cum0 = self._past.pop(0)
            end = self.stage_values()[self._past[-1][0], self._past[-1][1]]  # where each stands now
            np.add.at(self.returns, (st, opted), self._cum - cum0 + self.bootstrap * end)
            np.add.at(self.days, (st, opted), 1.0)

    def opportunity_points(self) -> float:
        mean_won = self.won / self.closed if self.closed else 0.0
        return self.opportunity_weight + self.revenue_weight * mean_won

    def stage_values(self) -> np.ndarray:
        """(stages, 2) what a contact in each stage goes on to earn, [reachable, opted out]."""
        d = self.days + self.prior_days
        return np.divide(self.returns, d, out=np.zeros_like(self.returns), where=d > 0)

    def unsubscribe_points(self) -> np.ndarray:
        """(stages,) what an unsubscribe costs in each stage (negative)."""
        v = self.stage_values()
        return self.unsubscribe_weight - np.maximum(v[:, 0] - v[:, 1], 0.0)
