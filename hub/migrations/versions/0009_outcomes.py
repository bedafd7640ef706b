"""decision_features.final_at and segment_messages: declared outcomes and the Segment input

Why: a declared outcome may have a longer attribution window than the decided action; the
decision's reward is then final at ``final_at`` (NULL: at ``window_ends_at``, as before).
Segment resends a message with the same ``messageId``; ``segment_messages`` makes it a no-op.

Revision ID: 0009_outcomes
Revises: 0008
Create Date: 2026-12-02 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_outcomes"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decision_features") as batch:
        batch.add_column(sa.Column("final_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "segment_messages",
        sa.Column("message_id", sa.String(length=160), primary_key=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("segment_messages")
    with op.batch_alter_table("decision_features") as batch:
        batch.drop_column("final_at")
