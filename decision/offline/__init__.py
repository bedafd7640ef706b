"""Learning and valuing a policy from a logged (context, action, reward) table.

- :mod:`.propensity`: the logging policy's action probabilities when the log did not record them.
- :mod:`.learn`: the engine's own bandit trained on logged rows, its deployed action
  probabilities, and safe policy improvement against the best constant action.
- :mod:`.value`: IPS / SNIPS / DR values of many policies from one paired bootstrap.
"""
