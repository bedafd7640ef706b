"""index pushes by record

Why: enqueue folds and claim_due checks for newer pushes of the same record by
(connector, external_id); without an index both scan the whole push table, which grows
with every decision.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pushes_record", "pushes", ["connector", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_pushes_record", table_name="pushes")
