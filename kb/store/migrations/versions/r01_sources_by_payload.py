"""run report: incident_sources indexed by payload hash

Revision ID: r01
Revises: 0001
Create Date: 2026-11-24 (written by hand)

A re-import skips every payload whose bytes are already stored; the run summary still counts
the distinct incidents those payloads hold as unchanged, which asks "which incidents did the
payload with this sha256 go into" (kb.store.payloads). The primary key of incident_sources
starts with incident_key, so without this index each such question scans the whole table.
"""
from alembic import op

revision = "r01"
down_revision = "0001"
branch_labels = ("run_report",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_sources", schema=None) as batch_op:
        batch_op.create_index("ix_incident_sources_sha256", ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_sources", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_sources_sha256")
