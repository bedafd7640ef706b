"""activities.tx: the inserting transaction, so a reader's cursor follows commit order

Why: ids are drawn at INSERT, but transactions commit in any order, so a reader that keeps the
highest id it read (the learn step's closed opportunities) skipped for good a row whose lower
id committed after that read. On PostgreSQL ``tx`` is the inserting transaction's id
(``pg_current_xact_id()``, 64 bits, never wraps); readers take rows in (tx, id) order, only
those of transactions that had ended, and remember the ones still running below their position
(hub/store/tail.py). SQLite has one writer, so ids follow commit order there and ``tx`` stays 0.

Rows stored before have tx 0, read in id order: a cursor saved as an id N is (0, N). The column
is added with the constant 0 (no table rewrite), then its default becomes the transaction id.
The (tx, id) index is built CONCURRENTLY on PostgreSQL (hub/store/online_index.py), over the
rows a reader tails only (closed opportunities): an index on every activity would be one more
write on the busiest insert for rows no reader walks this way.

Revision ID: 0019_activity_commit_order
Revises: 0018_crm_owners
Create Date: 2026-12-06 23:00:00
"""

import sqlalchemy as sa
from alembic import op

from hub.store.online_index import create_index_online

revision = "0019_activity_commit_order"
down_revision = "0018_crm_owners"
branch_labels = None
depends_on = None

NAME = "ix_activities_tx"
#: the activities read on a cursor (hub/store/learning.py closed_opportunities)
TAILED = "type IN ('opportunity_won', 'opportunity_lost')"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.dialect.server_version_info < (13,):
        version = ".".join(map(str, bind.dialect.server_version_info))
        raise RuntimeError(f"PostgreSQL {version} is too old for this hub: it needs 13 or newer (pg_current_xact_id)")
    op.add_column("activities", sa.Column("tx", sa.BigInteger(), nullable=False, server_default="0"))
    if bind.dialect.name == "postgresql":
        op.alter_column("activities", "tx", server_default=sa.text("pg_current_xact_id()::text::bigint"))
    create_index_online(NAME, "activities", ["tx", "id"], where=TAILED)


def downgrade() -> None:
    op.drop_index(NAME, table_name="activities")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("tx")
