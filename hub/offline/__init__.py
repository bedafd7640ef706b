"""`hub offline evaluate`: learn a policy from a logged table and value it on held-out rows.

- :mod:`.inputs`: the table's columns checked and turned into arrays (actions, rewards, costs,
  propensities), with errors that name the column or row.
- :mod:`.evaluate`: the split, propensities, the engine's bandit with safe improvement
  (decision/offline/learn.py) and the held-out values (decision/offline/value.py) as one result.
"""
