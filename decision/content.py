"""Content slots: subject line, hero, body and call to action, each chosen by its own bandit.

Why per-slot Beta-Bernoulli and not one bandit over whole emails: four slots of three variants
are 81 combinations, each of which would need its own evidence; per-slot bandits learn from
every send (a subject line is judged by opens, hero/body/CTA by clicks given an open) and
reach their best variant with a fraction of the traffic. Interactions between slots are
ignored on purpose until the data can support them.

Variants come from the decision config (``decision.content``); each decision pushes its chosen
variants as ``content_subject`` / ``content_hero`` / ``content_body`` / ``content_cta``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from decision.draws import SCALAR_DRAWS
from decision.policies import BetaBernoulli

#: slot -> the hub field it is pushed in and the outcome that rewards it
SLOT_FIELDS: Mapping[str, str] = {
    "subject": "content_subject",
    "hero": "content_hero",
    "body": "content_body",
    "cta": "content_cta",
}
SLOT_OUTCOME: Mapping[str, str] = {"subject": "open", "hero": "click", "body": "click", "cta": "click"}


class ContentSlots:
    """One :class:`BetaBernoulli` per configured slot.

    >>> s = ContentSlots({"subject": ["a", "b"]}, seed=0)
    >>> s.learn("subject", ["b"] * 50 + ["a"] * 50, [1.0] * 50 + [0.0] * 50)
    100
    >>> s.choose(1)["content_subject"]
    ['b']
    """

    def __init__(self, variants: Mapping[str, Sequence[str]], seed: int = 0) -> None:
        unknown = set(variants) - set(SLOT_FIELDS)
        if unknown:
            raise ValueError(f"unknown content slots {sorted(unknown)}; known: {sorted(SLOT_FIELDS)}")
        self.variants = {k: list(v) for k, v in variants.items() if v}
        self.bandits: dict[str, BetaBernoulli] = {
            k: BetaBernoulli(n_actions=len(v), seed=seed + j) for j, (k, v) in enumerate(self.variants.items())
        }

    def choose(self, n: int) -> dict[str, list[str]]:
        """Per hub field, the variant for each of ``n`` contacts (Thompson sampling).

        One Beta draw per contact and variant, argmax: the same choice distribution as the
        bandit's ``choose_many``, without its Monte-Carlo propensities (100 further draws per
        slot), which nothing here reads: a variant's push records which one was sent, and the
        slots learn from it on-policy."""
        out: dict[str, list[str]] = {}
        for slot, bandit in self.bandits.items():
            names = self.variants[slot]
            if n == 1 and bandit.n_actions <= SCALAR_DRAWS:  # a real-time decision: no arrays
                out[SLOT_FIELDS[slot]] = [names[bandit.thompson_one()]]
                continue
            idx = bandit.thompson_draw(n) if n else np.zeros(0, dtype=int)
            out[SLOT_FIELDS[slot]] = [names[i] for i in idx]
        return out

    def learn(self, slot: str, variants: Sequence[str], rewards: Sequence[float]) -> int:
        """Learn from sends of ``slot`` (rewards 0/1: opened for subject, clicked for others);
        variants no longer configured are ignored. Returns how many were learned from."""
        if slot not in self.bandits:
            return 0
        names = self.variants[slot]
        keep = [i for i, v in enumerate(variants) if v in names]
        if not keep:
            return 0
        idx = np.array([names.index(variants[i]) for i in keep])
        r = np.clip(np.asarray(rewards, dtype=float)[keep], 0.0, 1.0)
        self.bandits[slot].learn_many(np.zeros((len(idx), 0)), idx, r)
        return len(idx)

    def learn_outcomes(
        self, pushed: Sequence[Mapping[str, Any]], opened: Sequence[bool], clicked: Sequence[bool]
    ) -> int:
        """Learn from decisions' pushed fields and their attributed opens and clicks. Slot
        judged by clicks learn only from opened sends (a click needs an open first)."""
        opened_a = np.asarray(opened, dtype=bool)
        clicked_a = np.asarray(clicked, dtype=bool)
        learned = 0
        for slot, fname in SLOT_FIELDS.items():
            rows = [i for i, p in enumerate(pushed) if fname in p]
            if SLOT_OUTCOME[slot] == "click":
                rows = [i for i in rows if opened_a[i]]
                r = clicked_a[rows]
            else:
                r = opened_a[rows]
            learned += self.learn(slot, [pushed[i][fname] for i in rows], r.astype(float))
        return learned

    def state(self) -> dict[str, dict[str, Any]]:
        """JSON-safe posteriors per slot, keyed by variant name (survives re-ordered config)."""
        out: dict[str, dict[str, Any]] = {}
        for slot, bandit in self.bandits.items():
            if not hasattr(bandit, "alpha_"):
                continue
            names = self.variants[slot]
            out[slot] = {
                v: [float(bandit.alpha_[j]), float(bandit.beta_[j]), float(bandit.n_obs_[j])]  # type: ignore[attr-defined]
                for j, v in enumerate(names)
            }
        return out

    def load_state(self, state: Mapping[str, Mapping[str, Sequence[float]]]) -> None:
        """Restore :meth:`state`; variants not in the config are dropped, new ones start fresh."""
        for slot, per_variant in state.items():
            bandit = self.bandits.get(slot)
            if bandit is None:
                continue
            names = self.variants[slot]
            bandit.choose_many(np.zeros((1, 0)))  # initialise the state arrays
            for v, (a, b, n) in per_variant.items():
                if v in names:
                    j = names.index(v)
                    bandit.alpha_[j], bandit.beta_[j], bandit.n_obs_[j] = a, b, n  # type: ignore[attr-defined]

    def best(self) -> dict[str, str]:
        """Posterior-mean best variant per hub field (for reports)."""
        out = {}
        for slot, bandit in self.bandits.items():
            mean = bandit.predict_many(np.zeros((1, 0)))[0]
            out[SLOT_FIELDS[slot]] = self.variants[slot][int(np.argmax(mean))]
        return out
