"""unattributed_activities: the ids of stored activities not yet credited to a decision

Why: only the ids a ``hub.learn`` message carried were ever credited. A worker killed mid-sync
(the redelivered sync reads on from the committed cursor), a store away longer than the task's
retries, or a broker down when the message was sent lost that credit for good: the engine
learned rewards too low while reports, which read activities, disagreed. Now an activity's id
is written here in its insert's transaction and deleted in the transaction that credits it, so
the scheduled learn credits whatever no message brought (hub/pipeline/outcomes.py). A row per
committed activity, rather than a watermark over ids: ids are drawn before commit, so two
concurrent writers can commit a lower id after a higher one was credited.

Activities stored before this migration are not added: the old path credited those it knew.

Revision ID: 0017_unattributed_activities
Revises: 0016_held_activities
Create Date: 2026-12-06 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_unattributed_activities"
down_revision = "0016_held_activities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unattributed_activities",
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("activity_id"),
    )


def downgrade() -> None:
    op.drop_table("unattributed_activities")
