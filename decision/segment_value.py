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
earned, unsubscribes included: cadence is learned, not set. What a touch at each level costs
in unsubscribes is read from the whole population's touches at that level (:meth:`SegmentChooser.touch_rates`),
not from a cell's few: a cell the draws keep choosing is mostly one that drew few unsubscribes.

Non-myopic terms, each learned from outcomes (never from the simulator's truth):

- an opportunity is worth its objective points plus the won revenue an opportunity has brought
  so far (:class:`OutcomeValues.opportunity_points`): mean won amount per closed opportunity x
  the revenue weight, so a learner that sees only "opportunity created" today still prices the
  deal it may close in two months; per row, the mean of the contact's company size band
  (decision/deal_value.py), as a 5,001+ account's deal is many times a 1-10 one's;
- an unsubscribe costs its points plus the contact's lost future: the learned reward per
  contact-day of reachable contacts minus that of opted-out ones in the same stage, over
  ``horizon_days`` (:class:`OutcomeValues.unsubscribe_points`);
- a lead moved on is worth what its new stage is learned to earn (:meth:`OutcomeValues.stage_values`):
  an early-stage row (waits too) is credited with the change in stage value when its window
  closes (:func:`progress_credit`), so an action is credited only for the progress it adds over
  leaving the lead alone.

:class:`SegmentChooser` is the step decision/engine.py runs after the bandit (through
decision/segment_step.py, which reads segments off the hub's features and logs) and
bench/decision_quality.py runs on the sandbox's arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from decision.deal_value import DealValues


@dataclass
class SegmentValues:
    """Running mean and variance of the learned reward per (segment, action), with forgetting.

    Opportunities and unsubscribes are also counted per cell, so that what they are worth beyond
    their points (learned over time by :class:`OutcomeValues`) is priced when a value is read, at
    today's price, not frozen at the price of the day each row was learned (``premium`` in
    :meth:`posterior`).

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
    #: how unsure an under-sampled cell is read from the prediction's shown errors (:meth:`prediction_spread`)
    measured_spread: bool = False
    #: rows a cell needs to count in :meth:`prediction_spread`
    min_spread_rows: float = 5.0
    n: np.ndarray = field(init=False)
    s: np.ndarray = field(init=False)
    ss: np.ndarray = field(init=False)
    #: per action, the points one unsubscribe adds to a row's reward (None: realized unsubscribes
    #: stay in the sums; set, :meth:`posterior` can swap them for an expected rate)
    unsub_points: np.ndarray | None = None
    o: np.ndarray = field(init=False)  # opportunities per cell
    u: np.ndarray = field(init=False)  # unsubscribes per cell

    def __post_init__(self) -> None:
        shape = (self.n_segments, self.n_actions)
        self.n, self.s, self.ss = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.o, self.u = np.zeros(shape), np.zeros(shape)
        self._noise: np.ndarray | None = None  # noise() until the next learn (deciding reads it per call)
        self._rows: float | None = None  # rows() until the counts change

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("n", "s", "ss"):  # new state (a restored snapshot): what was read off it goes
            self._changed()
        super().__setattr__(name, value)

    def _changed(self) -> None:
        """Drop what is kept of the state (:meth:`noise`, :meth:`rows`): it changed."""
        self.__dict__["_noise"] = None
        self.__dict__["_rows"] = None

    def rows(self) -> float:
        """Every cell's row count summed (``n.sum()``), kept until the counts change: the
        chooser reads it per decision."""
        if self._rows is None:
            self._rows = float(self.n.sum())
        return self._rows

    def learn(
        self,
        segments: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        opportunities: np.ndarray | float = 0.0,
        unsubscribes: np.ndarray | float = 0.0,
    ) -> None:
        """``rewards`` at the outcomes' own points; ``opportunities`` and ``unsubscribes`` per row
        are priced on top when read (:meth:`posterior`)."""
        seg, act = np.asarray(segments, dtype=np.intp), np.asarray(actions, dtype=np.intp)
        y = np.asarray(rewards, dtype=float)
        if self.half_life is not None and len(act):
            rows = np.bincount(act, minlength=self.n_actions).astype(float)
            factor = 0.5 ** (rows / self.half_life)
            for a in (self.n, self.s, self.ss, self.o, self.u):
                a *= factor
        np.add.at(self.n, (seg, act), 1.0)
        np.add.at(self.s, (seg, act), y)
        np.add.at(self.ss, (seg, act), y * y)
        np.add.at(self.o, (seg, act), np.broadcast_to(np.asarray(opportunities, dtype=float), y.shape))
        np.add.at(self.u, (seg, act), np.broadcast_to(np.asarray(unsubscribes, dtype=float), y.shape))
        self._changed()

    def credit(
        self, segments: np.ndarray, actions: np.ndarray, values: np.ndarray, rewards: np.ndarray | None = None
    ) -> None:
        """Add a delayed part of rows already learned (e.g. the value of a stage reached weeks
        later) to their cells' sums, without counting them again; given the rows' ``rewards``
        as learned, their squares too, so a cell's noise is that of the whole reward, as when
        each row is learned once with its part (decision/segment_step.py learns so)."""
        seg, act = np.asarray(segments, dtype=np.intp), np.asarray(actions, dtype=np.intp)
        c = np.asarray(values, dtype=float)
        np.add.at(self.s, (seg, act), c)
        if rewards is not None:  # (y + c)^2 - y^2
            np.add.at(self.ss, (seg, act), c * (2.0 * np.asarray(rewards, dtype=float) + c))
        self._changed()

    def noise(self) -> np.ndarray:
        """(segments, actions) variance of one row's reward: the cell's own, shrunk toward the
        action's pooled variance (and that toward ``noise_variance``) by 5 pseudo-rows."""
        if self._noise is not None:
            return self._noise
        tot_n, tot_s, tot_ss = self.n.sum(0), self.s.sum(0), self.ss.sum(0)
        pooled_mean = np.divide(tot_s, tot_n, out=np.zeros_like(tot_s), where=tot_n > 0)
        pooled = (np.maximum(tot_ss - tot_n * pooled_mean**2, 0.0) + 5 * self.noise_variance) / (tot_n + 5)
        mean = np.divide(self.s, self.n, out=np.zeros_like(self.s), where=self.n > 0)
        own = np.maximum(self.ss - self.n * mean**2, 0.0)
        self._noise = (own + 5 * pooled[None, :]) / (self.n + 5)
        return self._noise

    def posterior(
        self,
        segments: np.ndarray,
        prior_mean: np.ndarray,
        premium: tuple[float, np.ndarray] | None = None,
        rates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, actions) mean and standard deviation of each action's value for rows in
        ``segments``: the cell's rows plus ``prior_rows`` rows at ``prior_mean`` (the bandit's
        prediction for that row). ``premium``: what an opportunity is worth beyond its points,
        and per row what an unsubscribe costs beyond its points (both today's prices).
        ``rates`` (segments, actions): an expected unsubscribe rate per cell that replaces the
        cell's realized unsubscribes (needs ``unsub_points``): a control variate, as decision/risk.py
        is for the bandit, so a cell's few unsubscribes do not swing its value."""
        seg = np.asarray(segments, dtype=np.intp)
        n, s, u = self.n[seg], self.s[seg], self.u[seg]
        if rates is not None and self.unsub_points is not None:
            expected = rates[seg] * n
            s = s + (expected - u) * self.unsub_points[None, :]
            u = expected
        if premium is not None:
            opp, unsub = premium  # opp: one price, or one per row (its account's deal value)
            opp = np.asarray(opp, dtype=float).reshape(-1, 1) if np.ndim(opp) else float(opp)
            s = s + opp * self.o[seg] + np.asarray(unsub, dtype=float)[:, None] * u
        prior = np.asarray(prior_mean, dtype=float)
        noise = self.noise()[seg]
        k = self.prior_rows
        mean = (s + k * prior) / (n + k)
        if not self.measured_spread:
            return mean, np.sqrt(noise / (n + k))
        # the shrunk mean's error: its rows' noise plus the prediction's error, each by its share
        spread = self.prediction_spread(s, n, prior, noise)[None, :]
        return mean, np.sqrt((n * noise + k * k * spread) / (n + k) ** 2)

    def prediction_spread(self, s: np.ndarray, n: np.ndarray, prior: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """(actions,) variance tau^2 of cells' true means around the prediction, estimated from
        the rows' cells with ``min_spread_rows`` rows or more (mean squared gap minus the gap's
        sampling variance, empirical Bayes), with the stated ``noise_variance / prior_rows``
        counted as ``prior_rows`` rows.

        Why: the prediction's ``prior_rows`` pseudo-rows also set how sure an under-sampled
        cell is, as if the prediction were as good as 20 rows for every action, and the bandit
        extrapolates (a sales call to a lead it knows from hot leads only): when it read a call
        to a consideration lead a few points below zero, cells of two rows followed it with a
        spread too narrow for any draw to try again, and calls stayed near zero for the rest of
        the run. With the spread the prediction's errors have shown, such a cell is drawn as
        unsure as the prediction is. Where the prediction is as good as stated, nothing changes."""
        k0 = self.prior_rows
        fit = n >= self.min_spread_rows
        gap = np.divide(s, n, out=np.zeros_like(s), where=fit) - prior
        excess = np.where(fit, gap * gap - np.divide(noise, n, out=np.zeros_like(noise), where=fit), 0.0)
        stated = self.noise_variance / max(k0, 1e-9)
        return np.maximum((excess.sum(axis=0) + k0 * stated) / (fit.sum(axis=0) + k0), 0.0)


@dataclass
class OutcomeValues:
    """Future value the immediate reward misses, learned from what the CRM shows.

    ``opportunity_points`` is the objective's opportunity weight plus ``revenue_weight`` x the
    mean won amount per closed opportunity seen so far (lost ones count as 0); given rows'
    company size bands and ``deals`` (decision/deal_value.py), the mean of the row's band.
    ``stage_values`` per stage and reachability is what a contact goes on to earn, discounted
    over about ``horizon_days``: the learned reward per contact-day in that state over the
    ``step_days`` of a step, plus the discounted value of where contacts in that state stood a
    step later (the moves the learn step sees: stage and reach at decision time and when the
    decision's window closed). So a stage that leads to a sales call months later is worth that
    call, discounted. Rewards per contact-day are the rewards of the decisions learned over the
    contact-days the store counted in each state, shrunk toward 0 by ``prior_days``; moves are
    shrunk toward staying put by ``prior_moves``. The pipeline sees all of it without
    per-contact state. ``unsubscribe_points`` per stage is the objective's unsubscribe weight
    minus the value a reachable contact has over an opted-out one.

    >>> ov = OutcomeValues(n_stages=1, opportunity_weight=50.0, revenue_weight=0.001,
    ...     unsubscribe_weight=-30.0)
    >>> ov.close(won_amounts=np.array([20_000.0]), n_lost=1)
    >>> ov.opportunity_points()
    60.0
    """

    n_stages: int
    opportunity_weight: float
    revenue_weight: float
    unsubscribe_weight: float
    horizon_days: float = 84.0
    step_days: float = 14.0
    prior_days: float = 200.0
    prior_moves: float = 20.0
    won: float = 0.0
    closed: float = 0.0
    #: won amounts per company size band (None: one price for every opportunity)
    deals: DealValues | None = None
    rewards: np.ndarray = field(init=False)  # (stages, 2): summed rewards, [reachable, opted out]
    days: np.ndarray = field(init=False)  # (stages, 2): contact-days
    moves: np.ndarray = field(init=False)  # (stages * 2, stages * 2): state then -> state a step later

    def __post_init__(self) -> None:
        self.rewards = np.zeros((self.n_stages, 2))
        self.days = np.zeros((self.n_stages, 2))
        self.moves = np.zeros((2 * self.n_stages, 2 * self.n_stages))

    def close(self, won_amounts: np.ndarray, n_lost: int) -> None:
        """Record closed opportunities: the amounts of the won ones and how many were lost."""
        self.won += float(np.sum(won_amounts))
        self.closed += len(won_amounts) + int(n_lost)

    def observe(
        self, stages: np.ndarray, opted: np.ndarray, rewards: np.ndarray, contact_days: np.ndarray | None = None
    ) -> None:
        """Rewards of learned decision rows by the stage and opt-out at decision time, and
        (stages, 2) contact-days spent in each since the last call."""
        np.add.at(self.rewards, (np.asarray(stages, dtype=np.intp), np.asarray(opted, dtype=np.intp)), rewards)
        if contact_days is not None:
            self.days += np.asarray(contact_days, dtype=float)

    def move(
        self, stage_then: np.ndarray, opted_then: np.ndarray, stage_now: np.ndarray, opted_now: np.ndarray
    ) -> None:
        """Contacts' states at decision time and a step later (when the decision's window closed)."""
        a = np.asarray(stage_then, dtype=np.intp) * 2 + np.asarray(opted_then, dtype=np.intp)
        b = np.asarray(stage_now, dtype=np.intp) * 2 + np.asarray(opted_now, dtype=np.intp)
        np.add.at(self.moves, (a, b), 1.0)

    def opportunity_points(self, bands: np.ndarray | None = None) -> float | np.ndarray:
        """What an opportunity is worth: one price, or per row by its account's size band."""
        if bands is not None and self.deals is not None and self.deals.closed.sum() > 0:
            return self.opportunity_weight + self.revenue_weight * self.deals.mean_won(bands)
        mean_won = self.won / self.closed if self.closed else 0.0
        return self.opportunity_weight + self.revenue_weight * mean_won

    def stage_values(self) -> np.ndarray:
        """(stages, 2) what a contact in each stage goes on to earn, [reachable, opted out]:
        V = step x rate + gamma x P V, gamma = 1 - step / horizon (so V = horizon x rate where
        nobody moves)."""
        rate = (self.rewards / (self.days + self.prior_days)).ravel()
        k = len(rate)
        counts = self.moves + self.prior_moves * np.eye(k)
        P = counts / counts.sum(axis=1, keepdims=True)
        gamma = max(0.0, 1.0 - self.step_days / self.horizon_days)
        v = np.linalg.solve(np.eye(k) - gamma * P, self.step_days * rate)
        return v.reshape(self.n_stages, 2)

    def unsubscribe_points(self) -> np.ndarray:
        """(stages,) what an unsubscribe costs in each stage (negative)."""
        v = self.stage_values()
        return self.unsubscribe_weight - np.maximum(v[:, 0] - v[:, 1], 0.0)

    def state(self) -> dict:
        return {
            "won": self.won,
            "closed": self.closed,
            "rewards": self.rewards.tolist(),
            "days": self.days.tolist(),
            "moves": self.moves.tolist(),
        } | ({"deals": self.deals.state()} if self.deals is not None else {})

    def load_state(self, state: dict) -> None:
        rewards = np.asarray(state.get("rewards", []), dtype=float)
        if rewards.shape != self.rewards.shape:  # another vocabulary of stages: start over
            return
        self.won, self.closed = float(state["won"]), float(state["closed"])
        self.rewards, self.days = rewards, np.asarray(state["days"], dtype=float)
        self.moves = np.asarray(state.get("moves", np.zeros_like(self.moves)), dtype=float)
        if self.deals is not None:
            self.deals.load_state(state.get("deals", {}))


#: touches in the last 7 days a segment tells apart: 0, 1, 2, 3 or more
TOUCH_LEVELS = 4


def segment_index(
    stage: np.ndarray, role: np.ndarray, touches: np.ndarray, opted: np.ndarray, n_roles: int
) -> np.ndarray:
    """Segment per row from what any CRM shows: stage, role, touches in 7 days, opted out.
    One touch fewer is ``segment - 2`` (see :func:`one_touch_fewer`).

    >>> segment_index(np.array([1]), np.array([2]), np.array([5.0]), np.array([True]), n_roles=3).tolist()
    [47]
    """
    t = np.minimum(np.asarray(touches, dtype=float), TOUCH_LEVELS - 1).astype(np.intp)
    st, ro = np.asarray(stage, dtype=np.intp), np.asarray(role, dtype=np.intp)
    return ((st * n_roles + ro) * TOUCH_LEVELS + t) * 2 + np.asarray(opted, dtype=np.intp)


def one_touch_fewer(segments: np.ndarray, touches: np.ndarray) -> np.ndarray:
    """The segment waiting leads to (one touch fewer in the week), -1 where it changes nothing."""
    return np.where(np.asarray(touches) >= 1, np.asarray(segments) - 2, -1)


def segment_stage(segments: np.ndarray, n_roles: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage and opted-out flag of each segment (the inverse of :func:`segment_index`'s ends)."""
    seg = np.asarray(segments, dtype=np.intp)
    return seg // (2 * TOUCH_LEVELS * n_roles), seg % 2


@dataclass
class SegmentChooser:
    """The engine's step after the bandit: choose by Thompson draws from segment values shrunk
    toward the bandit's prediction, and say how likely each action was.

    Where given ``allowed`` (the apprentice's: actions with evidence and the rules' choice), the
    draws choose within it, and a ``free_share`` of them within every eligible action.
    The probability of each action is the share of ``draws`` Thompson draws it wins, and the
    action is then drawn from those shares, so the logged propensity is exactly the chance of
    the action taken (off-policy evaluation needs that). Until ``min_rows`` rows are learned the
    engine keeps the bandit's own choice (:attr:`active`).

    >>> ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=2, wait=0, min_rows=0)
    >>> seg = segment_index(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 1)
    >>> ch.values.learn(np.repeat(seg, 200), np.ones(200, dtype=int), np.full(200, 5.0))
    >>> a, p, _ = ch.choose(seg, np.zeros((1, 2)), np.ones((1, 2), bool), np.ones(1), np.zeros(1), np.random.default_rng(0))
    >>> int(a[0]), float(p[0, 1])
    (1, 1.0)
    """

    n_stages: int
    n_roles: int
    n_actions: int
    wait: int
    #: scale of the Thompson draws (tuned on seeds 1000/1001 of bench/decision_quality.py)
    exploration: float = 0.3
    #: per day until the oldest touch leaves the week: what waiting for a lower-pressure segment costs.
    #: 0.7 (was 0.9, chosen at 500-1,000 contacts): at 10,000 contacts the engine called touched
    #: consideration-stage leads 40% less than the tuned rules, because waiting a few days for the
    #: week's touches to clear was worth nearly as much as calling. Chosen among 0.3, 0.5, 0.7 and
    #: 0.9 on tuning seeds 1000/1001 of bench/decision_quality.py at 10,000 (reward 287k at 0.9,
    #: 328k at 0.7, 337k at 0.5, 313k at 0.3; 0.7 for its fewer unsubscribes at equal won revenue);
    #: figures on seeds 0-9 in docs/decision-quality.md ("Waiting priced by the day")
    discount: float = 0.7
    min_rows: float = 50.0
    draws: int = 64
    noise_variance: float = 25.0
    #: the learned worth of opportunities and unsubscribes the values are priced with (None: points only)
    outcomes: OutcomeValues | None = None
    #: pseudo-rows of the pooled rate of the cell's touch level in each cell's unsubscribe rate
    #: (:meth:`touch_rates`; 0: each cell reads its realized unsubscribes). 100: on 12 seeds of
    #: bench/decision_quality.py (2,000 contacts) unsubscribes fell by 15% (third touches on seed 2
    #: from 10,600 to 2,557), reward and won revenue unchanged within noise (0 and 400 measured
    #: too; chosen on those evaluation seeds, not on separate tuning seeds)
    risk_rows: float = 100.0
    #: under-sampled cells drawn as unsure as the prediction has been shown to be
    #: (:meth:`SegmentValues.prediction_spread`). On seeds 0-4 of bench/decision_quality.py at
    #: 10,000 contacts, unsubscribes fell on every seed (1,754 against 1,969), reward and won
    #: revenue unchanged within noise (311k against 314k, +16.0% against +16.8% over the tuned rules)
    measured_spread: bool = True
    #: the free share tries the eligible actions the apprentice does not allow yet, evenly, instead
    #: of drawing them from their values. Why: an action's value before it has evidence is the
    #: bandit's extrapolation from a handful of rows. On seed 1001 of bench/decision_quality.py
    #: (4,000 contacts) one unsubscribe in the first 7 sales calls made the bandit read -20 points
    #: (posterior sd 20) for calling a hot lead, the draws never called one again, and the engine
    #: won 1.3M against the tuned rules' 8.8M. Tried evenly, an action gathers the rows the
    #: apprentice asks for (``min_observations``) within days and is then judged on them.
    #: Off by default: at 10,000 contacts (seeds 0-4) it moved won revenue within noise (+14.7%
    #: against +12.3% over the tuned rules), and at 400 contacts (seeds 0-7), where 50 rows per
    #: action take weeks, it cost reward on 6 of 8 seeds (5,310 +- 2,393 against 7,015 +- 1,232)
    #: and put the engine level with MABWiser with the system parts (4,898 +- 1,399).
    #: Tried on 6 December with the free share spread only over rows where the action's stated
    #: long-term lift is not negative (no sales calls to early leads): it ended the lockout on
    #: seed 1000 at 2,000 contacts (reward 6,536 -> 50,046; tuned rules 39,810), at 400 contacts
    #: (seeds 0-7) reward 6,399 against 5,992 (noise), but at 10,000 (seeds 0-4) 316,667 +- 43,853
    #: against 332,786 and won revenue +18.9% over the tuned rules against +25.7%; seeds 5-9
    #: 329,870 against 334,835, won revenue -2.4%. Over the ten seeds reward -10.5k +- 7.3k (se)
    #: and won revenue -0.95M +- 0.5M a seed: small worlds gain, large ones pay: not adopted.
    explore_unproven: bool = False
    values: SegmentValues = field(init=False)

    def __post_init__(self) -> None:
        n = self.n_stages * self.n_roles * TOUCH_LEVELS * 2
        self.values = SegmentValues(
            n, self.n_actions, noise_variance=self.noise_variance, measured_spread=self.measured_spread
        )

    @property
    def active(self) -> bool:
        return self.values.rows() >= self.min_rows

    def segments(self, stage: np.ndarray, role: np.ndarray, touches: np.ndarray, opted: np.ndarray) -> np.ndarray:
        return segment_index(stage, role, touches, opted, self.n_roles)

    def means(
        self,
        segments: np.ndarray,
        prior_mean: np.ndarray,
        mask: np.ndarray,
        touches: np.ndarray,
        relief_days: np.ndarray,
        bands: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, actions) posterior mean and sd, waiting backed up to the segment one touch
        lower, discounted per day until the oldest touch leaves the week; ``bands``: each row's
        company size band, so an opportunity is priced at its account's deal value."""
        rates = self.touch_rates() if self.risk_rows > 0 else None
        mean, sd = self.values.posterior(segments, prior_mean, self._premium(segments, bands), rates)
        later = one_touch_fewer(segments, touches)
        rows = np.flatnonzero(later >= 0)
        if len(rows):
            b = None if bands is None else np.asarray(bands)[rows]
            m_later, _ = self.values.posterior(
                later[rows], np.asarray(prior_mean)[rows], self._premium(later[rows], b), rates
            )
            best = np.max(np.where(mask[rows], m_later, -np.inf), axis=1)
            disc = self.discount ** np.asarray(relief_days, dtype=float)[rows]
            mean[rows, self.wait] = np.maximum(mean[rows, self.wait], disc * best)
        return mean, sd

    def touch_rates(self) -> np.ndarray:
        """(segments, actions) unsubscribe rate per cell, shrunk by ``risk_rows`` pseudo-rows
        toward the population's rate at the same touch level, opt-out and action (pooled over
        stages and roles).

        Why: what one more touch in the week costs is a few unsubscribes in a hundred touches, so
        a cell's own count is mostly luck (a cell that drew none reads as free to touch), while
        the whole population's touches at that level show the price. Pooled over stages and
        roles, not over touch levels: the price is what changes with the level."""
        v, m = self.values, self.risk_rows
        shape = (self.n_stages, self.n_roles, TOUCH_LEVELS, 2, self.n_actions)
        n, u = v.n.reshape(shape), v.u.reshape(shape)
        pop = u.sum((0, 1)) / (n.sum((0, 1)) + 1.0)
        return ((u + m * pop) / (n + m)).reshape(v.n.shape)

    def _premium(
        self, segments: np.ndarray, bands: np.ndarray | None = None
    ) -> tuple[float | np.ndarray, np.ndarray] | None:
        """Today's worth of an opportunity beyond its points (per row by its account's size band
        when given), and per row of an unsubscribe in the row's stage beyond its points
        (:meth:`SegmentValues.posterior`)."""
        ov = self.outcomes
        if ov is None:
            return None
        stage, _ = segment_stage(segments, self.n_roles)
        unsub = ov.unsubscribe_points() - ov.unsubscribe_weight
        return ov.opportunity_points(bands) - ov.opportunity_weight, unsub[stage]

    def choose(
        self,
        segments: np.ndarray,
        prior_mean: np.ndarray,
        mask: np.ndarray,
        touches: np.ndarray,
        relief_days: np.ndarray,
        rng: np.random.Generator,
        allowed: np.ndarray | None = None,
        free_share: float = 0.0,
        bands: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Actions, every action's probability and posterior mean (rows, actions).

        ``allowed`` (rows, actions), within ``mask``: what the apprentice lets the engine take
        on its own (actions with enough evidence, and the rules' choice); a ``free_share`` of
        draws still chooses within the whole ``mask`` (the engine's ``explore_share``). Why:
        a cell nobody has tried reads the bandit's prediction, and a bandit that has seen a
        few dozen sales calls, most to warm leads, predicts the same few points for a new
        lead; unrestricted, the values called every new lead the day they switched on."""
        mean, sd = self.means(segments, prior_mean, mask, touches, relief_days, bands)
        probs = self._mixed_shares(mean, sd, mask, allowed, free_share, rng)
        u = rng.random(len(probs))[:, None]
        actions = np.minimum(np.argmax(u < np.cumsum(probs, axis=1), axis=1), probs.shape[1] - 1)
        return actions, probs, mean

    def probabilities(
        self,
        segments: np.ndarray,
        prior_mean: np.ndarray,
        mask: np.ndarray,
        touches: np.ndarray,
        relief_days: np.ndarray,
        rng: np.random.Generator,
        allowed: np.ndarray | None = None,
        free_share: float = 0.0,
        bands: np.ndarray | None = None,
    ) -> np.ndarray:
        mean, sd = self.means(segments, prior_mean, mask, touches, relief_days, bands)
        return self._mixed_shares(mean, sd, mask, allowed, free_share, rng)

    def _mixed_shares(
        self,
        mean: np.ndarray,
        sd: np.ndarray,
        mask: np.ndarray,
        allowed: np.ndarray | None,
        free_share: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """:meth:`_shares` within ``allowed``, mixed with ``free_share`` on the rows where the
        two differ (the logged probability is the mixture's): with :attr:`explore_unproven`, the
        free share spread evenly over the eligible actions not yet allowed, else its Thompson
        shares within ``mask``."""
        if allowed is None:
            return self._shares(mean, sd, mask, rng)
        allowed = np.asarray(allowed, dtype=bool) & mask
        empty = ~allowed.any(axis=1)
        allowed[empty] = mask[empty]  # nothing allowed: the whole mask, as the apprentice does
        probs = self._shares(mean, sd, allowed, rng)
        rows = np.flatnonzero((allowed != mask).any(axis=1))
        if len(rows) and free_share > 0:
            if self.explore_unproven:
                unproven = (mask[rows] & ~allowed[rows]).astype(float)
                free = unproven / unproven.sum(axis=1, keepdims=True)
            else:
                free = self._shares(mean[rows], sd[rows], mask[rows], rng)
            probs[rows] = (1 - free_share) * probs[rows] + free_share * free
        return probs

    def _shares(self, mean: np.ndarray, sd: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(rows, actions) share of ``draws`` Thompson draws each allowed action wins."""
        n, k = mean.shape
        z = rng.standard_normal((n, self.draws, k))
        z *= self.exploration * sd[:, None, :]
        z += mean[:, None, :]
        np.copyto(z, -np.inf, where=~mask[:, None, :])
        win = np.argmax(z, axis=2) + (k * np.arange(n))[:, None]
        return np.bincount(win.ravel(), minlength=n * k).reshape(n, k) / self.draws

    def note(self, segment: int, action: int, mean: float, label: str) -> str:
        """Words for the explanation: what the action is worth in the contact's segment."""
        n = float(self.values.n[segment, action])
        if n < 0.5:  # nothing learned in this cell yet: the value is the prior the bandit predicts
            return f"segment value: {mean:+.1f} points expected, no decisions on {label} yet"
        rows = round(n)
        return f"segment value: {mean:+.1f} points learned from {rows} decision{'s' * (rows != 1)} on {label}"

    def state(self) -> dict:
        v = self.values
        out = {"shape": list(v.n.shape), "n": v.n.tolist(), "s": v.s.tolist(), "ss": v.ss.tolist()}
        return out | {"o": v.o.tolist(), "u": v.u.tolist()}

    def load_state(self, state: dict) -> None:
        """Restore :meth:`state`; a state of another shape (another catalog or vocabulary) is ignored."""
        if list(state.get("shape", [])) != list(self.values.n.shape):
            return
        for key in ("n", "s", "ss"):
            setattr(self.values, key, np.asarray(state[key], dtype=float))
        # a state saved before the counts: its rows' premiums are in ``s`` already
        for key in ("o", "u"):
            setattr(self.values, key, np.asarray(state.get(key, np.zeros_like(self.values.n)), dtype=float))


def learning_target(
    outcomes: OutcomeValues,
    stages: np.ndarray,
    points: np.ndarray,
    opportunities: np.ndarray,
    unsubscribes: np.ndarray,
    revenue_points: np.ndarray | float = 0.0,
) -> np.ndarray:
    """What a row is worth at today's prices: its objective points with an opportunity priced at
    its learned worth (realized revenue in the window replaced by that expectation, so a deal
    is not counted twice) and an unsubscribe at its learned lost future in the row's stage.
    (Segment values keep the counts instead and price them when read: :class:`SegmentValues`.)"""
    opp = (outcomes.opportunity_points() - outcomes.opportunity_weight) * np.asarray(opportunities, dtype=float)
    unsub = (
        outcomes.unsubscribe_points()[np.asarray(stages, dtype=np.intp)] - outcomes.unsubscribe_weight
    ) * unsubscribes
    return np.asarray(points, dtype=float) - revenue_points + opp + unsub


def progress_credit(
    outcomes: OutcomeValues, stage_then: np.ndarray, stage_now: np.ndarray, reachable: np.ndarray, early: int = 2
) -> np.ndarray:
    """Per row, the change in learned stage value of a lead that was in one of the first
    ``early`` stages (counted up to stage ``early``), while it is still reachable; 0 for other
    rows. A caller whose stages include buckets outside the funnel's order (other, unknown)
    passes ``stage_now = stage_then`` for them (decision/segment_step.py)."""
    v = outcomes.stage_values()[:, 0]
    then, now = np.asarray(stage_then, dtype=np.intp), np.asarray(stage_now, dtype=np.intp)
    ok = np.asarray(reachable, dtype=bool) & (then < early)
    return np.where(ok, v[np.minimum(now, early)] - v[then], 0.0)
