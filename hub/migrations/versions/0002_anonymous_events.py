"""anonymous events: API events held until their visitor is identified

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "anonymous_events",
        sa.Column("event_id", sa.String(length=160), nullable=False),
        sa.Column("anonymous_id", sa.String(length=120), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stitched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("anonymous_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_anonymous_events_anonymous_id"), ["anonymous_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_anonymous_events_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_anonymous_events_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anonymous_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anonymous_events_contact_id"))
        batch_op.drop_index(batch_op.f("ix_anonymous_events_email"))
        batch_op.drop_index(batch_op.f("ix_anonymous_events_anonymous_id"))
    op.drop_table("anonymous_events")
