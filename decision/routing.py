"""Lead routing: which owner gets a hand-off, with hard rules first and the reason recorded.

Hard constraints (never broken): the owner is active; the lead's territory rule, if one
matches, allows the owner (first matching rule wins, like a workflow branch); the owner has
capacity left (open leads under ``max_open_leads`` and today's new leads under
``max_new_per_day``). Among the owners that pass, the score

    w_specialization * specialization + w_win_rate * win rate + w_load * (1 - load)

prefers specialists (industry, region, product, language: 1 a match, 0.5 a generalist or an
unknown lead value, 0 a mismatch), owners who win in the lead's segment (wins / decided,
shrunk towards the overall rate so three lucky deals do not dominate) and owners with room.
Equal scores go round-robin: lead ``i`` of a batch prefers the tied owner ``(cursor + i) mod m``
first, so a batch of identical leads spreads evenly, and ``cursor_`` carries on next batch.

The batch is routed in rounds over (leads x owners) arrays: every unplaced lead picks its best
feasible owner, each owner accepts leads in batch order up to its capacity, the rest retry
without the full owners. Sort the batch by priority (e.g. lead score) before routing.

>>> owners = [Owner("ana", industries=frozenset({"software"})), Owner("bo")]
>>> leads = [Lead(1, industry="software"), Lead(2, industry="retail")]
>>> [(a.owner, a.contact_id) for a in Router().route_many(leads, owners)]
[('ana', 1), ('bo', 2)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hub.errors import DecisionError
from hub.models import Activity, ActivityType, Contact

DIMENSIONS = ("industry", "region", "product", "language")
_SETS = {"industry": "industries", "region": "regions", "product": "products", "language": "languages"}


@dataclass(frozen=True)
class Owner:
    """A person who can take leads. Empty specialization sets mean "any" (a generalist)."""

    id: str
    active: bool = True
    industries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    open_leads: int = 0
    max_open_leads: int = 50
    assigned_today: int = 0
    max_new_per_day: int = 10

    @property
    def capacity(self) -> int:
        """New leads this owner can take now."""
        return max(0, min(self.max_open_leads - self.open_leads, self.max_new_per_day - self.assigned_today))


@dataclass(frozen=True)
class Lead:
    contact_id: int
    industry: str | None = None
    region: str | None = None
    product: str | None = None
    language: str | None = None

    @property
    def segment(self) -> str:
        """The key of win-rate statistics: industry and region."""
        return f"{self.industry or '?'}/{self.region or '?'}"


@dataclass(frozen=True)
class TerritoryRule:
    """Leads matching every non-empty criterion may only go to ``owners``."""

    name: str
    owners: frozenset[str]
    industries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Assignment:
    contact_id: int
    owner: str | None
    reason: str
    score: float = float("nan")


def _codes(values: Sequence[str | None], vocab: dict[str, int]) -> np.ndarray:
    return np.asarray([vocab.get(v, -1) if v is not None else -2 for v in values], dtype=np.int64)


def _member(sets: Sequence[frozenset[str]], vocab: dict[str, int]) -> np.ndarray:
    """(len(sets), len(vocab) + 1) membership; the last column is "value not in vocabulary"."""
    out = np.zeros((len(sets), len(vocab) + 1), dtype=bool)
    for r, s in enumerate(sets):
        for v in s:
            out[r, vocab[v]] = True
    return out


def _match(leads: Sequence[Lead], holders: Sequence[object], dim: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lead in holder's set, holder's set empty, lead value missing) as (L, H), (H,), (L,)."""
    sets = [getattr(h, _SETS[dim]) for h in holders]
    vocab = {v: i for i, v in enumerate(sorted(set().union(*sets)))} if sets else {}
    codes = _codes([getattr(lead, dim) for lead in leads], vocab)
    member = _member(sets, vocab)
    col = np.where(codes >= 0, codes, len(vocab))
    inside = member[:, col].T if len(holders) else np.zeros((len(leads), 0), dtype=bool)
    empty = np.asarray([not s for s in sets], dtype=bool)
    return inside, empty, codes == -2


class Router:
    """Batch owner assignment; see the module docstring. ``cursor_`` is the round-robin state."""

    def __init__(
        self,
        *,
        w_specialization: float = 1.0,
        w_win_rate: float = 1.0,
        w_load: float = 0.3,
        prior_strength: float = 10.0,
        require_territory: bool = False,
    ) -> None:
        self.w_specialization = w_specialization
        self.w_win_rate = w_win_rate
        self.w_load = w_load
        self.prior_strength = prior_strength
        self.require_territory = require_territory
        self.cursor_ = 0

    def route_many(
        self,
        leads: Sequence[Lead],
        owners: Sequence[Owner],
        rules: Sequence[TerritoryRule] = (),
        win_stats: Mapping[tuple[str, str], tuple[int, int]] | None = None,
    ) -> list[Assignment]:
        """One assignment per lead, in order. ``win_stats[(segment, owner)] = (wins, decided)``."""
        ids = [o.id for o in owners]
        if len(set(ids)) != len(ids):
            raise DecisionError("owner ids must be unique.")
        unknown = {o for r in rules for o in r.owners} - set(ids)
        if unknown:
            raise DecisionError(f"territory rules name unknown owners {sorted(unknown)}; add them or fix the rules.")
        n, m = len(leads), len(owners)
        if n == 0:
            return []
        if m == 0:
            return [Assignment(lead.contact_id, None, "no owner: no owners are configured") for lead in leads]
        allowed, rule_of = self._territory(leads, owners, rules)
        active = np.asarray([o.active for o in owners], dtype=bool)
        cap = np.asarray([o.capacity for o in owners], dtype=np.int64)
        spec, matched = self._specialization(leads, owners)
        win, win_n = self._win_rates(leads, owners, win_stats or {})
        load = np.asarray([min(1.0, o.open_leads / o.max_open_leads) if o.max_open_leads > 0 else 1.0 for o in owners])
        score = self.w_specialization * spec + self.w_win_rate * win + self.w_load * (1 - load)[None, :]
        rank = (np.arange(m)[None, :] - (self.cursor_ + np.arange(n))[:, None]) % max(m, 1)
        key = np.round(score, 6) - rank * 1e-9  # ties (to 1e-6) go round-robin
        eligible = allowed & active[None, :]
        chosen = np.full(n, -1)
        ties = np.zeros(n, dtype=np.int64)
        todo = np.ones(n, dtype=bool)
        while todo.any():
            feasible = eligible & (cap > 0)[None, :]
            k = np.where(feasible, key, -np.inf)
            pick = np.argmax(k, axis=1)
            ok = todo & feasible[np.arange(n), pick]
            if not ok.any():
                break
            rows = np.flatnonzero(ok)
            order = rows[np.argsort(pick[rows], kind="stable")]  # by owner, batch order within
            owner_of = pick[order]
            start = np.searchsorted(owner_of, owner_of, side="left")
            accepted = order[(np.arange(len(order)) - start) < cap[owner_of]]
            chosen[accepted] = pick[accepted]
            best = np.round(score[accepted, pick[accepted]], 6)
            ties[accepted] = (feasible[accepted] & (np.round(score[accepted], 6) == best[:, None])).sum(axis=1)
            cap -= np.bincount(pick[accepted], minlength=m)
            todo[accepted] = False
            todo &= feasible.any(axis=1)
        self.cursor_ = (self.cursor_ + n) % max(m, 1)
        return [
            self._assignment(i, leads[i], owners, chosen[i], score, matched, win, win_n, rules, rule_of, eligible, ties)
            for i in range(n)
        ]

    # ---- pieces -----------------------------------------------------------------------------
    def _territory(
        self, leads: Sequence[Lead], owners: Sequence[Owner], rules: Sequence[TerritoryRule]
    ) -> tuple[np.ndarray, np.ndarray]:
        n, m = len(leads), len(owners)
        if not rules:
            return np.full((n, m), not self.require_territory), np.full(n, -1)
        hit = np.ones((n, len(rules)), dtype=bool)
        for dim in DIMENSIONS:
            inside, empty, _ = _match(leads, rules, dim)
            hit &= inside | empty[None, :]
        has = hit.any(axis=1)
        first = np.where(has, np.argmax(hit, axis=1), -1)
        index = {o.id: j for j, o in enumerate(owners)}
        rule_owners = np.zeros((len(rules), m), dtype=bool)
        for r, rule in enumerate(rules):
            rule_owners[r, [index[o] for o in rule.owners]] = True
        allowed = np.where(has[:, None], rule_owners[np.maximum(first, 0)], not self.require_territory)
        return allowed, first

    def _specialization(self, leads: Sequence[Lead], owners: Sequence[Owner]) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros((len(leads), len(owners)))
        matched = np.zeros((len(leads), len(owners), len(DIMENSIONS)), dtype=bool)
        for d, dim in enumerate(DIMENSIONS):
            inside, empty, missing = _match(leads, owners, dim)
            neutral = empty[None, :] | missing[:, None]
            total += np.where(neutral, 0.5, inside.astype(float))
            matched[:, :, d] = inside & ~neutral
        return total / len(DIMENSIONS), matched

    def _win_rates(
        self, leads: Sequence[Lead], owners: Sequence[Owner], stats: Mapping[tuple[str, str], tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        wins_all = sum(w for w, _ in stats.values())
        decided_all = sum(d for _, d in stats.values())
        prior = wins_all / decided_all if decided_all else 0.0
        segs = sorted({lead.segment for lead in leads})
        s_index = {s: i for i, s in enumerate(segs)}
        wins = np.zeros((len(segs), len(owners)))
        decided = np.zeros((len(segs), len(owners)))
        for j, o in enumerate(owners):
            for s, i in s_index.items():
                w, d = stats.get((s, o.id), (0, 0))
                wins[i, j], decided[i, j] = w, d
        rate = (wins + self.prior_strength * prior) / (decided + self.prior_strength)
        rows = np.asarray([s_index[lead.segment] for lead in leads])
        return rate[rows], decided[rows]

    def _assignment(self, i, lead, owners, j, score, matched, win, win_n, rules, rule_of, eligible, ties) -> Assignment:  # noqa: ANN001
        territory = f"territory {rules[rule_of[i]].name!r}" if rule_of[i] >= 0 else "no territory rule"
        if j < 0:
            if not eligible[i].any():
                why = "no active owner is allowed" if rule_of[i] >= 0 or self.require_territory else "no active owner"
                if self.require_territory and rule_of[i] < 0:
                    why = "no territory rule matches and territories are required"
            else:
                why = "every eligible owner is at capacity"
            return Assignment(lead.contact_id, None, f"no owner: {why} ({territory})")
        o = owners[j]
        dims = [d for d, hit in zip(DIMENSIONS, matched[i, j], strict=True) if hit]
        parts = [
            territory,
            f"matches {', '.join(dims)}" if dims else "no specialization match",
            f"win rate {win[i, j]:.0%} in {lead.segment} ({int(win_n[i, j])} decided)",
            f"{o.open_leads}/{o.max_open_leads} open, {o.assigned_today}/{o.max_new_per_day} today before this batch",
        ]
        if ties[i] > 1:
            parts.append(f"round-robin among {ties[i]} equal owners")
        return Assignment(lead.contact_id, o.id, f"to {o.id}: " + "; ".join(parts), float(score[i, j]))


# ---- from hub models ------------------------------------------------------------------------
def lead_from_contact(
    contact: Contact,
    *,
    region_of: Mapping[str, str] | None = None,
    product_field: str = "product",
    language_field: str = "language",
) -> Lead:
    """The routing view of a contact: industry and country from its company (country mapped to
    a region by ``region_of`` when given), product and language from its properties."""
    country = contact.company.country
    region = (region_of or {}).get(country, country) if country else None
    props = contact.properties
    return Lead(
        contact_id=contact.id if contact.id is not None else -1,
        industry=contact.company.industry,
        region=region,
        product=str(props[product_field]) if props.get(product_field) else None,
        language=str(props[language_field]) if props.get(language_field) else None,
    )


def win_stats(
    contacts: Sequence[Contact], activities: Sequence[Activity], *, region_of: Mapping[str, str] | None = None
) -> dict[tuple[str, str], tuple[int, int]]:
    """``(segment, owner) -> (won, decided)`` from closed opportunities of owned contacts."""
    by_id = {c.id: c for c in contacts if c.owner}
    out: dict[tuple[str, str], list[int]] = {}
    for a in activities:
        c = by_id.get(a.contact_id)
        if c is None or a.type not in (ActivityType.OPPORTUNITY_WON, ActivityType.OPPORTUNITY_LOST):
            continue
        cell = out.setdefault((lead_from_contact(c, region_of=region_of).segment, c.owner), [0, 0])
        cell[0] += a.type == ActivityType.OPPORTUNITY_WON
        cell[1] += 1
    return {k: (w, d) for k, (w, d) in out.items()}
