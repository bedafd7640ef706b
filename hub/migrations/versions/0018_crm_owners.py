"""crm_owners: each connector's sales owners and whether the CRM holds them active

Why: routing took ``decision.owners`` as configured, so an owner deactivated in the CRM kept
receiving leads until someone edited hub.yaml, and every assignment to them was refused by the
CRM. Each completed sync now replaces its connector's rows from ``Connector.owners()``, and
routing treats an owner a CRM reports inactive as inactive (hub/pipeline/routing.py).

Revision ID: 0018_crm_owners
Revises: 0017_unattributed_activities
Create Date: 2026-12-06 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_crm_owners"
down_revision = "0017_unattributed_activities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_owners",
        sa.Column("connector", sa.String(40), nullable=False),
        sa.Column("owner_id", sa.String(120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "owner_id"),
    )


def downgrade() -> None:
    op.drop_table("crm_owners")
