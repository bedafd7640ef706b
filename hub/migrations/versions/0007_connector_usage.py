"""connector_usage: each connector's last reported API usage (budget, calls), for `hub status`

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connector_usage",
        sa.Column("connector", sa.String(40), primary_key=True),
        sa.Column("usage", sa.JSON, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("connector_usage")
