"""Mark the activities that repeat an event another system recorded (hub/mirrors.py)

Why: a store filled before this counted the e-mail HubSpot sent and the Task Salesforce logged
for it as two touches, and an unsubscribe seen as a vendor event and as an opt-out flag as two
unsubscribes. Refolding every profile marks those mirrors (hub/store/activities.py) and leaves
them out of the profiles; their outcome rows are dropped where the decision's reward is still
open, so the learner is not charged twice. Finalized rewards stay as they were learned.
No schema change: the mark is a ``mirror_of`` key in the activity's properties.

Revision ID: 0012_activity_mirrors
Revises: 0011_decision_trace
Create Date: 2026-12-04 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_activity_mirrors"
down_revision = "0011_decision_trace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from hub.mirrors import WINDOWS, is_mirror
    from hub.store.activities import rebuild_profiles
    from hub.store.schema import activities, decision_features, outcomes

    conn = op.get_bind()
    rebuild_profiles(conn)
    rows = conn.execute(
        sa.select(activities.c.id, activities.c.properties).where(activities.c.type.in_(sorted(WINDOWS)))
    )
    mirrored = [aid for aid, props in rows if is_mirror(props)]
    finalized = sa.select(decision_features.c.decision_id).where(decision_features.c.finalized_at.is_not(None))
    for s in range(0, len(mirrored), 500):
        conn.execute(
            sa.delete(outcomes).where(
                outcomes.c.activity_id.in_(mirrored[s : s + 500]), outcomes.c.decision_id.not_in(finalized)
            )
        )


def downgrade() -> None:
    pass  # the marks are facts about the data; older code ignores the key
