"""sync_state: a finished sync clears heartbeat_at; last_status keeps the last finished result

Why: starting a sync overwrote ``last_status`` with "running", so /metrics' hub_sync_last_ok read
0 during every sync. A sync now leaves the last result in place and is known to run by its
``heartbeat_at``, cleared when it finishes. Rows of syncs that finished before this kept their
last heartbeat: cleared here, or they would read as interrupted.

Revision ID: 0021_sync_result_kept
Revises: 0020_sync_heartbeat
Create Date: 2026-12-07 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_sync_result_kept"
down_revision = "0020_sync_heartbeat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sync_state = sa.table("sync_state", sa.column("last_status", sa.String), sa.column("heartbeat_at", sa.DateTime))
    op.execute(
        sync_state.update()
        .where(sa.or_(sync_state.c.last_status.is_(None), sync_state.c.last_status != "running"))
        .values(heartbeat_at=None)
    )


def downgrade() -> None:
    """Nothing to undo: the older code reads a cleared heartbeat as it read a missing one."""
