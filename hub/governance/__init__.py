"""Governance: what the hub may do alone, how a person stops it, and who did what.

- :mod:`~hub.governance.autonomy`: per push kind / catalog action, ``automatic``,
  ``needs_approval`` (held in the approvals queue) or ``off``.
- :mod:`~hub.governance.approvals`: the queue of held pushes; approve, reject, expire.
- :mod:`~hub.governance.killswitch`: per use case (next_best_action, routing, scoring), from
  config or flipped at run time; on means the legacy behaviour at once.
- :mod:`~hub.governance.alerts`: monitoring on the learn schedule, stored alerts, alerts that
  flip a kill switch until acknowledged.
- :mod:`~hub.governance.audit`: every human (and automatic) governance action, who, when, why.
- :mod:`~hub.governance.plan`: the one call ``decide`` makes after the policy has decided:
  kill switch fallback, lead scores, owner routing, and autonomy on the resulting pushes.
"""
