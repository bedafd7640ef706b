"""decision_features.trace: why each action was or was not taken, logged at decide time

Why: the console's decision inspector shows, per catalog action, whether the contact was
eligible and what excluded it (consent, touch cap, quiet period, the action's rule), the
engine's score and probability, and whether a budget overruled the choice. None of that can be
recomputed later (consent and touches change), so the engine logs it with the features.

Revision ID: 0011_decision_trace
Revises: 0010_console_sessions
Create Date: 2026-12-03 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_decision_trace"
down_revision = "0010_console_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decision_features", sa.Column("trace", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision_features") as batch:
        batch.drop_column("trace")
