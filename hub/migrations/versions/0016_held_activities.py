"""held_activities: a synced activity whose contact is not stored yet, kept until it is

Why: a sync reads contacts, then activities. A contact and its first activity created in the
CRM between the two streams (a form fill that creates the contact) left the activity naming
no known contact: it was rejected as a bad record, its page committed, the cursor moved past
it, and the next sync stored the contact but never read the activity again. Now it is held
here and inserted when a contact with its identity or email is stored (hub/store/held.py).

Revision ID: 0016_held_activities
Revises: 0015_consent_hold
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_held_activities"
down_revision = "0015_consent_hold"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_activities",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=160), nullable=False),
        sa.Column("connector", sa.String(length=40), nullable=True),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("ref_id", sa.String(length=120), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("activity", sa.JSON(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "external_id"),
    )
    op.create_index("ix_held_activities_email", "held_activities", ["email"])
    op.create_index("ix_held_activities_held_at", "held_activities", ["held_at"])
    op.create_index("ix_held_activities_ref", "held_activities", ["connector", "object_type", "ref_id"])


def downgrade() -> None:
    op.drop_index("ix_held_activities_ref", table_name="held_activities")
    op.drop_index("ix_held_activities_held_at", table_name="held_activities")
    op.drop_index("ix_held_activities_email", table_name="held_activities")
    op.drop_table("held_activities")
