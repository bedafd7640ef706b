"""engine tables: contact profiles and decision features

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_profiles",
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    op.create_table(
        "decision_features",
        sa.Column("decision_id", ID, nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("feature_version", sa.String(length=40), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reward", sa.JSON(), nullable=True),
        sa.Column("reward_total", sa.Float(), nullable=True),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("learned_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("decision_id"),
    )
    with op.batch_alter_table("decision_features", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_features_window_ends_at"), ["window_ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_features_finalized_at"), ["finalized_at"], unique=False)

    # profiles of the activities already stored, so the engine's first decisions see history
    from hub.store.activities import rebuild_profiles

    rebuild_profiles(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("decision_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_features_finalized_at"))
        batch_op.drop_index(batch_op.f("ix_decision_features_window_ends_at"))
    op.drop_table("decision_features")
    op.drop_table("contact_profiles")
