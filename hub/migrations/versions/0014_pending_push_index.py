"""index the pending pushes by record, for the fold on enqueue

Why: every enqueue reads the open pushes of the records it writes, to fold a new write into one
still pending. Through ix_pushes_record that read visits every push the record ever had (one per
decision and kind, done or skipped long ago) and filters them by state, so it grows with the
record's history. This partial index holds only pending rows: at most one per record, kind and
list. On PostgreSQL it is built CONCURRENTLY, outside the migration's transaction, so a live hub
keeps enqueueing while a large push table is indexed (hub/store/online_index.py).

Revision ID: 0014_pending_push_index
Revises: 0013_handoff_index
Create Date: 2026-12-05 21:30:00
"""

from alembic import op

from hub.store.online_index import create_index_online

revision = "0014_pending_push_index"
down_revision = "0013_handoff_index"
branch_labels = None
depends_on = None

NAME = "ix_pushes_pending_record"


def upgrade() -> None:
    create_index_online(NAME, "pushes", ["connector", "external_id"], where="state = 'pending'")


def downgrade() -> None:
    op.drop_index(NAME, table_name="pushes")
