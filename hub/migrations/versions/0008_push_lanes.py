"""pushes.bucket: push lanes split the queue by a hash of the record id

Why: one push task per connector is bound by the vendor's latency, far below its rate limit.
Lanes push in parallel, each owning the records whose bucket falls in it, so one record's
writes still land in order. Open pushes get their bucket here; finished ones keep 0 (never
claimed again).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 04:45:00
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BUCKETS = 64  # as hub/store/pushes.py: a migration does not import the code it migrates for


def upgrade() -> None:
    with op.batch_alter_table("pushes") as batch:
        batch.add_column(sa.Column("bucket", sa.Integer(), nullable=False, server_default="0"))
    pushes = sa.table("pushes", sa.column("id"), sa.column("external_id"), sa.column("state"), sa.column("bucket"))
    conn = op.get_bind()
    open_rows = conn.execute(
        sa.select(pushes.c.id, pushes.c.external_id).where(pushes.c.state.in_(("pending", "sending")))
    ).all()
    for start in range(0, len(open_rows), 1000):
        conn.execute(
            sa.update(pushes).where(pushes.c.id == sa.bindparam("_id")).values(bucket=sa.bindparam("bucket")),
            [
                {"_id": r.id, "bucket": zlib.crc32(r.external_id.encode()) % BUCKETS}
                for r in open_rows[start : start + 1000]
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("pushes") as batch:
        batch.drop_column("bucket")
