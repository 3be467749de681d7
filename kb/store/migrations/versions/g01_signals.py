"""signals: forum threads and news items, their links to incidents, unofficial incidents

Revision ID: g01
Revises: 0001
Create Date: 2026-11-23

Written by hand.
- signal_items: one row per item as a source gave it (an HN story, a feed entry, an article
  page), keyed by (source, native_id); the raw record JSON is what everything else derives from.
- signals: items grouped into stories (dedupe by canonical URL and near-identical titles),
  rebuilt by the link stage.
- signal_links: a signal ↔ incident link with its score and evidence.
- signal_unofficial: candidate incidents that no official post covers.
- signal_state: fingerprints that let the link stage skip work when nothing changed.
"""
import sqlalchemy as sa
from alembic import op

revision = "g01"
down_revision = "0001"
branch_labels = ("signals",)
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "signal_items",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("native_id", sa.String(), nullable=False),
        sa.Column("record_json", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("doc_url", sa.String(), nullable=False),
        _time("fetched_at", nullable=False),
        sa.Column("resolved_url", sa.String(), nullable=True),
        sa.Column("fetch_note", sa.Text(), nullable=True),
        _time("first_stored_at", nullable=False),
        sa.PrimaryKeyConstraint("source", "native_id"),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("discussion_url", sa.Text(), nullable=True),
        _time("created_at"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("providers", sa.String(), nullable=False),
        sa.Column("doc_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signals_created_at", "signals", ["created_at"])
    op.create_table(
        "signal_links",
        sa.Column("signal_id", sa.String(), nullable=False),
        sa.Column("incident_key", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("confidence", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("signal_id", "incident_key"),
    )
    op.create_index("ix_signal_links_incident", "signal_links", ["incident_key"])
    op.create_table(
        "signal_unofficial",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        _time("start_at", nullable=False),
        _time("end_at", nullable=False),
        sa.Column("doc_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "signal_state",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    for table in ("signal_state", "signal_unofficial", "signal_links", "signals",
                  "signal_items"):
        op.drop_table(table)
