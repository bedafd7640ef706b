"""The decisioning engine: numpy + scikit-learn, batch-first.

- :mod:`decision.policies` — contextual bandits behind one interface (choose / learn / explain /
  snapshot), plus the apprentice wrapper for cold start.
- :mod:`decision.checks` — the invariant suite every policy must pass.
- :mod:`decision.arbitration` — consent, contact policy, value blend and budgets; never trains.
- :mod:`decision.offpolicy` — IPS, SNIPS and doubly robust values with bootstrap intervals.
- :mod:`decision.experiment` — stable engine / holdout / control arms by hashed contact id.
"""
