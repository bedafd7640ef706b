"""contacts.consent_hold: an opt-out said through a record the CRM merged away

Why: a contact's consent is the OR of its CRM records' flags, rebuilt on every sync. When the CRM
merges two records, the hub folds the loser's identity away; if the loser carried the opt-out
and the survivor does not (a Salesforce merge keeps the master's values), the person's "no"
vanished and the next decision e-mailed them. The hold keeps it on the contact.

Revision ID: 0015_consent_hold
Revises: 0014_pending_push_index
Create Date: 2026-12-06 14:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_consent_hold"
down_revision = "0014_pending_push_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("consent_hold", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("consent_hold")
