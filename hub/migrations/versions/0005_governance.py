"""governance: approvals, kill switches, audit log, alerts, monitor runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("push_id", ID, sa.ForeignKey("pushes.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("decision_id", ID, sa.ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("contact_id", ID, sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", TS),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_approvals_decision_id", "approvals", ["decision_id"])
    op.create_index("ix_approvals_expires_at", "approvals", ["expires_at"])
    op.create_index("ix_approvals_state", "approvals", ["state", "id"])
    op.create_table(
        "kill_switches",
        sa.Column("use_case", sa.String(40), primary_key=True),
        sa.Column("is_on", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("alert_id", ID),
        sa.Column("by", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "alerts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("use_cases", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("acked_by", sa.String(120)),
        sa.Column("acked_at", TS),
    )
    op.create_index("ix_alerts_open", "alerts", ["state", "kind", "subject"])
    op.create_table(
        "monitor_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_monitor_runs_at", "monitor_runs", ["at"])


def downgrade() -> None:
    for name in ("monitor_runs", "alerts", "audit_log", "kill_switches", "approvals"):
        op.drop_table(name)
