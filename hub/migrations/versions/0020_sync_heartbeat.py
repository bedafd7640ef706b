"""sync_state.heartbeat_at: when a running sync last renewed its lock

Why: a sync whose worker was SIGKILLed stayed "running" in `hub status` and the console until
the next sync started. A running sync now stamps its streams' ``heartbeat_at`` each time its
heartbeat renews the lock (every third of ``push.lease_seconds``); one whose stamp is older than
a lease has lost its lock and is shown as interrupted, with that time (hub/status.py).

Revision ID: 0020_sync_heartbeat
Revises: 0019_activity_commit_order
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_sync_heartbeat"
down_revision = "0019_activity_commit_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_state", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("heartbeat_at")
