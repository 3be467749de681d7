"""postmortems: published write-ups as documents, and their links to incidents

Revision ID: p01
Revises: 0001
Create Date: 2026-12-07

Written by hand.
- postmortem_items: one row per entry as a source gave it (an annotated document, a list
  entry), keyed by (source, native_id); the record JSON is what everything else derives from.
- postmortems: entries merged into documents by their write-up URL (a write-up in two lists
  is one document), with the KB provider it maps to; rebuilt by the postmortem stage.
- postmortem_links: a postmortem ↔ incident link (many-to-many) with its score, confidence
  and evidence, like signal_links.
- postmortem_state: fingerprints that let the postmortem stage skip work when nothing changed.
"""
import sqlalchemy as sa
from alembic import op

revision = "p01"
down_revision = "0001"
branch_labels = ("postmortems",)
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "postmortem_items",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("native_id", sa.String(), nullable=False),
        sa.Column("url_key", sa.String(), nullable=False),
        sa.Column("record_json", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("doc_url", sa.String(), nullable=False),
        _time("fetched_at", nullable=False),
        _time("first_stored_at", nullable=False),
        sa.PrimaryKeyConstraint("source", "native_id"),
    )
    op.create_index("ix_postmortem_items_url_key", "postmortem_items", ["url_key"])
    op.create_table(
        "postmortems",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(), nullable=True),
        _time("start_at"),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("doc_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_postmortems_provider", "postmortems", ["provider"])
    op.create_table(
        "postmortem_links",
        sa.Column("postmortem_id", sa.String(), nullable=False),
        sa.Column("incident_key", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("confidence", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("postmortem_id", "incident_key"),
    )
    op.create_index("ix_postmortem_links_incident", "postmortem_links", ["incident_key"])
    op.create_table(
        "postmortem_state",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    for table in ("postmortem_state", "postmortem_links", "postmortems", "postmortem_items"):
        op.drop_table(table)
