"""snapshot archives: mark payloads that list only open items

Revision ID: d01
Revises: 0001
Create Date: 2026-12-07 (written by hand)

A Statuspage summary.json lists only unresolved incidents, so an archive of such snapshots
shows an incident's end only as its absence from the next snapshot (kb.normalize.snapshots).
`docs.lists_open_only` marks those payloads, so the series can be read back without the raw
bytes. Payloads stored before this revision count as not open-only until re-parsed.
"""
import sqlalchemy as sa
from alembic import op

revision = "d01"
down_revision = "0001"
branch_labels = ("snapshots",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("docs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lists_open_only", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("docs", schema=None) as batch_op:
        batch_op.drop_column("lists_open_only")
