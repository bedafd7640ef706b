"""Arbitration: turn model scores into one allowed action per contact. It never trains.

Three steps, each vectorized over the batch:

1. :func:`eligibility` composes the mask: business eligibility, then hard consent rules
   (no email-channel action for an email opt-out; nothing but ``wait`` for do-not-contact),
   then the contact policy (at most N marketing touches per 7 days; a quiet period after a
   sales touch). ``wait`` is always eligible, so every row has a choice.
2. :func:`priority` is Pega's P x C x V x L: propensity (expected short-term reward) times
   value weight, blended with a long-term value estimate, times context weight and lever.
3. :func:`apply_budgets` enforces global budgets such as "at most B sales handoffs per owner
   per day": the rows that want a budgeted action compete across the whole batch by priority,
   the best B per owner keep it and the rest fall back to their best remaining action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hub.errors import DecisionError


@dataclass(frozen=True)
class ActionSpec:
    """One action in the catalogue. ``channel == "email"`` actions need email consent."""

    name: str
    channel: str | None = None
    marketing: bool = False
    value: float = 1.0
    lever: float = 1.0


@dataclass(frozen=True)
class Catalog:
    """The ordered actions (index = policy action index); ``wait`` must be one of them.

    >>> c = Catalog((ActionSpec("wait", value=0.0), ActionSpec("nurture", "email", True)))
    >>> c.index("nurture"), c.email.tolist()
    (1, [False, True])
    """

    actions: tuple[ActionSpec, ...]
    wait: str = "wait"

    def __post_init__(self) -> None:
        names = [a.name for a in self.actions]
        if len(set(names)) != len(names):
            raise DecisionError(f"action names must be unique; got {names}.")
        if self.wait not in names:
            raise DecisionError(f"the catalogue needs a no-op action named {self.wait!r}.")
        w = self.actions[names.index(self.wait)]
        if w.channel is not None or w.marketing:
            raise DecisionError(f"{self.wait!r} must have no channel and not be marketing.")

    # derived once per catalog (it is frozen): eligibility reads them for every decision
    @cached_property
    def names(self) -> list[str]:
        return [a.name for a in self.actions]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {n: j for j, n in reversed(list(enumerate(self.names)))}

    def index(self, name: str) -> int:
        try:
            return self._positions[name]
        except KeyError:
            raise DecisionError(f"unknown action {name!r}; known: {self.names}.") from None

    def flags(self, names: Sequence[str]) -> np.ndarray:
        """(k,) bool marking the named actions."""
        out = np.zeros(len(self.actions), dtype=bool)
        out[[self.index(n) for n in names]] = True
        return out

    @cached_property
    def email(self) -> np.ndarray:
        return _frozen(np.array([a.channel == "email" for a in self.actions]))

    @cached_property
    def marketing(self) -> np.ndarray:
        return _frozen(np.array([a.marketing for a in self.actions]))

    @cached_property
    def email_marketing(self) -> tuple[tuple[bool, bool], ...]:
        """Per action (:attr:`email`, :attr:`marketing`) as Python booleans, for one row."""
        return tuple(zip(self.email.tolist(), self.marketing.tolist(), strict=True))

    @cached_property
    def wait_index(self) -> int:
        return self.index(self.wait)

    @cached_property
    def _blocked(self) -> dict[tuple[bool, bool], tuple[bool, ...] | None]:
        table = {}
        for opt_out in (False, True):
            for held in (False, True):
                flags = tuple((opt_out and email) or (held and marketing) for email, marketing in self.email_marketing)
                table[opt_out, held] = flags if any(flags) else None
        return table

    def blocked(self, email_opt_out: bool, held: bool) -> tuple[bool, ...] | None:
        """Per action, whether an e-mail opt-out (e-mails) or a touch cap or quiet period
        (``held``: marketing) rules it out; None when nothing is (one table per catalog)."""
        return self._blocked[bool(email_opt_out), bool(held)]

    @cached_property
    def value(self) -> np.ndarray:
        return _frozen(np.array([a.value for a in self.actions], dtype=float))

    @cached_property
    def lever(self) -> np.ndarray:
        return _frozen(np.array([a.lever for a in self.actions], dtype=float))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class ContactPolicy:
    """Frequency rules: touches counted over the last 7 days by the caller."""

    max_marketing_touches_7d: int = 3
    sales_quiet_days: float = 3.0


@dataclass(frozen=True)
class Budget:
    """At most ``limit`` uses of ``actions`` per owner (or in total) in the current period.

    ``used`` holds what was already spent this period, keyed by owner (or ``"*"``).
    """

    name: str
    actions: tuple[str, ...]
    limit: int
    per_owner: bool = True
    used: Mapping[Any, int] = field(default_factory=dict)


def _flag(values: Any, n: int, name: str, dtype: Any = bool) -> np.ndarray:
    v = np.zeros(n, dtype=dtype) if values is None else np.asarray(values, dtype=dtype)
    if v.shape != (n,):
        raise DecisionError(f"{name} must have one value per contact ({n}); got {v.shape}.")
    return v


def eligibility(
    catalog: Catalog,
    n: int,
    *,
    base_mask: Any = None,
    email_opt_out: Any = None,
    do_not_contact: Any = None,
    marketing_touches_7d: Any = None,
    days_since_sales_touch: Any = None,
    contact_policy: ContactPolicy = ContactPolicy(),
) -> np.ndarray:
    """(n, k) bool mask of allowed actions; ``days_since_sales_touch`` NaN means never.

    >>> c = Catalog((ActionSpec("wait", value=0.0), ActionSpec("nurture", "email", True)))
    >>> eligibility(c, 2, email_opt_out=[False, True]).tolist()
    [[True, True], [True, False]]
    """
    k = len(catalog.actions)
    mask = np.ones((n, k), dtype=bool) if base_mask is None else np.array(base_mask, dtype=bool)
    if mask.shape != (n, k):
        raise DecisionError(f"base_mask must have shape ({n}, {k}); got {mask.shape}.")
    opt_out = _flag(email_opt_out, n, "email_opt_out")
    dnc = _flag(do_not_contact, n, "do_not_contact")
    touches = _flag(marketing_touches_7d, n, "marketing_touches_7d", float)
    since = _flag(days_since_sales_touch, n, "days_since_sales_touch", float)
    if days_since_sales_touch is None:
        since[:] = np.nan
    capped = touches >= contact_policy.max_marketing_touches_7d
    quiet = since < contact_policy.sales_quiet_days  # NaN compares False: never touched
    if n == 1:  # a real-time row: the same rules on Python booleans, no (1, k) array steps
        mask[0] = eligible_row(catalog, mask[0].tolist(), bool(opt_out[0]), bool(dnc[0]), bool(capped[0] or quiet[0]))
        return mask
    mask &= ~(opt_out[:, None] & catalog.email[None, :])
    mask &= ~((capped | quiet)[:, None] & catalog.marketing[None, :])
    mask[dnc] = False
    mask[:, catalog.index(catalog.wait)] = True
    return mask


def eligible_row(
    catalog: Catalog, row: list[bool], email_opt_out: bool, do_not_contact: bool, held: bool
) -> list[bool]:
    """:func:`eligibility` of one contact on Python booleans: ``row`` its base mask, ``held``
    whether the touch cap or a sales quiet period holds marketing back."""
    if len(row) != len(catalog.actions):
        raise DecisionError(f"a row of the mask has one value per action ({len(catalog.actions)}); got {len(row)}.")
    if do_not_contact:
        out = [False] * len(row)
    else:
        blocked = catalog.blocked(email_opt_out, held)
        out = list(row) if blocked is None else [ok and not b for ok, b in zip(row, blocked, strict=True)]
    out[catalog.wait_index] = True
    return out


def priority(
    propensity: Any,
    catalog: Catalog,
    mask: Any = None,
    *,
    long_term: Any = None,
    blend: float = 1.0,
    context_weight: Any = None,
) -> np.ndarray:
    """``lever * context * (blend * propensity * value + (1 - blend) * long_term)``.

    ``-inf`` where ``mask`` is False. ``blend`` = 1 ranks by short-term expected value only.
    """
    p = np.asarray(propensity, dtype=float)
    if not 0.0 <= blend <= 1.0:
        raise DecisionError(f"blend must lie in [0, 1]; got {blend}.")
    lt = np.zeros_like(p) if long_term is None else np.asarray(long_term, dtype=float)
    cw = 1.0 if context_weight is None else np.asarray(context_weight, dtype=float)
    out = catalog.lever * cw * (blend * p * catalog.value + (1.0 - blend) * lt)
    out = np.nan_to_num(out, nan=-np.inf)
    return out if mask is None else np.where(mask, out, -np.inf)


def _best(prio: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.argmax(np.where(mask, prio, -np.inf), axis=1)


def apply_budgets(
    actions: Any,
    prio: Any,
    mask: Any,
    catalog: Catalog,
    budgets: Sequence[Budget],
    owners: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Enforce budgets on proposed ``actions``; returns ``(actions, demoted)``.

    Rows over a budget lose every action of that budget and move to their best remaining
    eligible action by ``prio``. Their action is then set by arbitration, not by the policy, so
    ``demoted`` should be logged with the decision (off-policy evaluation must treat it).
    """
    actions = np.array(actions, dtype=np.intp)
    prio = np.asarray(prio, dtype=float)
    mask = np.array(mask, dtype=bool)
    n = len(actions)
    own = np.full(n, "*") if owners is None else np.asarray(owners).astype(str)
    demoted = np.zeros(n, dtype=bool)
    flags = [(b, catalog.flags(b.actions)) for b in budgets]
    if any(f[catalog.index(catalog.wait)] for _, f in flags):
        raise DecisionError(f"{catalog.wait!r} cannot be budgeted: it is every row's fallback.")
    changed = True
    while changed:
        changed = False
        for b, in_budget in flags:
            rows = np.flatnonzero(in_budget[actions])
            if len(rows) == 0:
                continue
            keys = own[rows] if b.per_owner else np.full(len(rows), "*")
            uniq, code = np.unique(keys, return_inverse=True)
            code = code.ravel()
            left = np.array([max(0, b.limit - int(b.used.get(g, 0))) for g in uniq])
            score = prio[rows, actions[rows]]
            order = np.lexsort((rows, -score, code))
            first = np.searchsorted(code[order], np.arange(len(uniq)))
            rank = np.empty(len(rows), dtype=np.intp)
            rank[order] = np.arange(len(rows)) - first[code[order]]
            over = rows[rank >= left[code]]
            if len(over):
                mask[np.ix_(over, np.flatnonzero(in_budget))] = False
                actions[over] = _best(prio[over], mask[over])
                demoted[over] = True
                changed = True
    return actions, demoted


@dataclass(frozen=True)
class Arbitration:
    actions: np.ndarray
    priority: np.ndarray
    demoted: np.ndarray


def arbitrate(
    prio: Any, mask: Any, catalog: Catalog, budgets: Sequence[Budget] = (), owners: Any = None
) -> Arbitration:
    """Best eligible action per row by priority, then budgets.

    >>> c = Catalog((ActionSpec("wait", value=0.0), ActionSpec("handoff", "sales")))
    >>> prio = np.array([[0.0, 0.2], [0.0, 0.9], [0.0, 0.5]])
    >>> b = Budget("handoffs", ("handoff",), limit=1)
    >>> arbitrate(prio, np.ones((3, 2), bool), c, [b], owners=["ann"] * 3).actions.tolist()
    [0, 1, 0]
    """
    prio = np.asarray(prio, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    actions, demoted = apply_budgets(_best(prio, mask), prio, mask, catalog, budgets, owners)
    return Arbitration(actions, np.where(mask, prio, -np.inf), demoted)
