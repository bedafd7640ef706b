"""console_sessions: server-side records of console logins, so logout and idle time end them

Why: a signed cookie alone stays valid until it expires, even after logout; the record makes
logout, a password change and an idle timeout end the session on the server.

Revision ID: 0009_console_sessions
Revises: 0008
Create Date: 2026-12-02 17:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_console_sessions"
down_revision = "0009_outcomes"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("password_tag", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_console_sessions_username", "console_sessions", ["username"])


def downgrade() -> None:
    op.drop_table("console_sessions")
