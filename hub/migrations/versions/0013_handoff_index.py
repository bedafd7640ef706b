"""index decision_features by (action, window_ends_at), for the day's sales handoffs

Why: every decide batch reads the day's handoffs per owner (the engine's sales budget). Found
through the day's decisions (``decisions.created_at``), that read joins every decision made
today, so it grows with the day's volume (8 to 20 us per contact over four rounds of 4,000 at
20,000 contacts). A handoff decided today has ``window_ends_at`` (created_at plus a positive
attribution window) after the day's start, so this index finds only the handoffs whose window
is still open: bounded by the budget (handoffs per owner per day) times the window's days.
Built CONCURRENTLY on PostgreSQL (hub/store/online_index.py): decision_features grows by a row
per decision, and a live hub keeps deciding while it is indexed.

Revision ID: 0013_handoff_index
Revises: 0012_activity_mirrors
Create Date: 2026-12-04 22:00:00
"""

from alembic import op

from hub.store.online_index import create_index_online

revision = "0013_handoff_index"
down_revision = "0012_activity_mirrors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index_online("ix_decision_features_action_window", "decision_features", ["action", "window_ends_at"])


def downgrade() -> None:
    op.drop_index("ix_decision_features_action_window", table_name="decision_features")
