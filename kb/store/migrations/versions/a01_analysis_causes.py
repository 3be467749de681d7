"""analysis: cause tags per incident

Revision ID: a01
Revises: 0001
Create Date: 2026-11-22 (written by hand)
"""
import sqlalchemy as sa
from alembic import op

revision = "a01"
down_revision = "0001"
branch_labels = ("analysis",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_causes",
        sa.Column("incident_key", sa.String(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("stated_as", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("tagger", sa.String(), nullable=False),
        sa.Column("tagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_key", "tag"),
    )
    with op.batch_alter_table("incident_causes", schema=None) as batch_op:
        batch_op.create_index("ix_incident_causes_tag", ["tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_causes", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_causes_tag")
    op.drop_table("incident_causes")
