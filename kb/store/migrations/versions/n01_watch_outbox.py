"""watch and alerts: the alert outbox, the watched state of each incident and source

Revision ID: n01
Revises: 0001
Create Date: 2026-12-07 (written by hand)

- alert_outbox: one row per (target, incident, change kind, change identity): the intent to
  notify, recorded before sending and marked after (kb.store.outbox). The unique key is what
  makes a change notify each target once, across restarts and two watchers.
- watch_incidents: what `kb watch` last saw of each incident (content hash and the few facts
  it diffs), so a change made by any writer is found once.
- watch_sources: each watched source's schedule (next poll, failures in a row).
"""
import sqlalchemy as sa
from alembic import op

revision = "n01"
down_revision = "0001"
branch_labels = ("watch",)
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("incident_key", sa.String(), nullable=False),
        sa.Column("change_kind", sa.String(), nullable=False),
        sa.Column("change_id", sa.String(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _time("next_try", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("created_at", nullable=False),
        _time("claimed_at"),
        sa.Column("claim_token", sa.String(), nullable=True),
        _time("sent_at"),
        sa.UniqueConstraint("target", "incident_key", "change_kind", "change_id",
                            name="uq_alert_outbox_change"),
    )
    op.create_index("ix_alert_outbox_state", "alert_outbox", ["state", "next_try"])
    op.create_index("ix_alert_outbox_incident", "alert_outbox", ["target", "incident_key"])
    op.create_table(
        "watch_incidents",
        sa.Column("incident_key", sa.String(), primary_key=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        _time("seen_at", nullable=False),
    )
    op.create_index("ix_watch_incidents_provider", "watch_incidents", ["provider"])
    op.create_table(
        "watch_sources",
        sa.Column("provider", sa.String(), primary_key=True),
        _time("next_due", nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("last_checked"),
        _time("watched_since", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("watch_sources")
    op.drop_index("ix_watch_incidents_provider", table_name="watch_incidents")
    op.drop_table("watch_incidents")
    op.drop_index("ix_alert_outbox_incident", table_name="alert_outbox")
    op.drop_index("ix_alert_outbox_state", table_name="alert_outbox")
    op.drop_table("alert_outbox")
