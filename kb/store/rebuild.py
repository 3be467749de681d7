"""A full rebuild of the normalized tables (`kb reparse`) built beside the live ones and
swapped in by one transaction.

Why: clearing the tables first and rebuilding them in place left readers a half-empty KB
for the whole run, and a kill left it empty (a site build then deleted every page). Now the
line writes into a *shadow* store (a throwaway SQLite file with the same schema), and
`swap_in` applies the difference to the live store in a single transaction:

* incidents the rebuild produced: inserted, or updated in place when their content changed
  (`first_stored_at` and rows of later features that refer to the key survive); their child
  rows (updates, components, sources, current records) are replaced;
* stored incidents the rebuild did not produce: deleted only when every payload they were
  built from was read and parsed again under their provider ("proven gone": today's parsers
  no longer yield them); otherwise kept as they are and reported with the reason;
* payload marks (`docs`) of the payloads parsed again are replaced (first `ingested_at`
  kept); provider rows are upserted. Vendor edits already recorded (`incident_revisions`),
  signals, fetch log and the tables of later features are not touched.

Readers see the old KB until the commit and the new one after it (SQLite WAL and PostgreSQL
MVCC both give a reader one snapshot); a kill at any moment before the commit leaves the old
KB exactly as it was.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from kb.store import keyword_index
from kb.store.repo import (
    T_COMPONENTS,
    T_DOCS,
    T_INCIDENTS,
    T_PROVIDERS,
    T_RECORDS,
    T_SOURCES,
    T_UPDATES,
    Store,
)
from kb.store.tables import chunks

_CHILDREN = (T_UPDATES, T_COMPONENTS, T_SOURCES, T_RECORDS)


@dataclass
class SwapResult:
    """What the swap changed in the live store, by incident key."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # proven gone: deleted
    kept: dict[str, str] = field(default_factory=dict)  # not rebuilt, kept: key → why


@contextlib.contextmanager
def shadow_store() -> Iterator[Store]:
    """An empty store at the current schema in a temporary folder, removed afterwards (a kill
    leaves only a stray `kb-reparse-*` temporary folder, never a change to the live store)."""
    with tempfile.TemporaryDirectory(prefix="kb-reparse-") as folder:
        store, _ = Store.open(f"sqlite:///{(Path(folder) / 'shadow.db').as_posix()}",
                              write=True)
        try:
            yield store
        finally:
            store.close()


def doc_providers(store: Store) -> dict[str, set[str]]:
    """Every provider each stored payload (sha256) was imported under: the same bytes may be
    stored under two providers (`kb ingest --provider`), and a rebuild must keep both."""
    found: dict[str, set[str]] = {}
    with store.engine.connect() as conn:
        for row in conn.execute(select(T_DOCS.c.sha256, T_DOCS.c.provider)):
            found.setdefault(row.sha256, set()).add(row.provider)
    return found


def swap_in(store: Store, shadow: Store, reparsed: set[tuple[str, str]]) -> SwapResult:
    """Make the live `store` hold what `shadow` holds, in one transaction (see the module
    docstring). `reparsed`: the (sha256, provider) pairs read and parsed again by the rebuild;
    only they can prove a stored incident gone."""
    result = SwapResult()
    now = datetime.now(UTC)
    with shadow.engine.connect() as src:
        built = {r.key: r.content_hash
                 for r in src.execute(select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash))}
        with store.engine.begin() as dst:
            held = {r.key: (r.content_hash, r.first_stored_at) for r in dst.execute(
                select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash,
                       T_INCIDENTS.c.first_stored_at))}
            keys = sorted(built)
            for chunk in chunks(keys):
                _copy_incidents(src, dst, chunk, held, result)
            gone = sorted(set(held) - set(built))
            sources = _sources_by_key(dst, gone)
            for key in gone:
                provider = key.partition("/")[0]
                shas = sources.get(key, set())
                missing = sorted(s for s in shas if (s, provider) not in reparsed)
                if shas and not missing:
                    result.dropped.append(key)
                else:
                    why = (f"payload {missing[0][:12]}… was not parsed again" if missing
                           else "no stored payload refers to it")
                    result.kept[key] = why
            for chunk in chunks(result.dropped):
                for table in _CHILDREN:
                    dst.execute(delete(table).where(table.c.incident_key.in_(chunk)))
                dst.execute(delete(T_INCIDENTS).where(T_INCIDENTS.c.key.in_(chunk)))
            keyword_index.refresh(dst, result.dropped)
            _copy_docs(src, dst, now)
            _copy_providers(src, dst)
    return result



def _sources_by_key(conn: Connection, keys: Sequence[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for chunk in chunks(keys):
        query = select(T_SOURCES.c.incident_key, T_SOURCES.c.sha256).where(
            T_SOURCES.c.incident_key.in_(chunk))
        for row in conn.execute(query):
            found.setdefault(row.incident_key, set()).add(row.sha256)
        query = select(T_RECORDS.c.incident_key, T_RECORDS.c.sha256).where(
            T_RECORDS.c.incident_key.in_(chunk))
        for row in conn.execute(query):
            found.setdefault(row.incident_key, set()).add(row.sha256)
    return found


def _copy_incidents(src: Connection, dst: Connection, keys: Sequence[str],
                    held: dict[str, tuple[str, datetime]], result: SwapResult) -> None:
    rows = [dict(r._mapping) for r in src.execute(
        select(T_INCIDENTS).where(T_INCIDENTS.c.key.in_(keys)))]
    fresh, stale = [], []
    for row in rows:
        old = held.get(row["key"])
        if old is None:
            result.new.append(row["key"])
            fresh.append(row)
        elif old[0] != row["content_hash"]:
            result.updated.append(row["key"])
            stale.append(dict(row, first_stored_at=old[1]))
        else:
            result.unchanged.append(row["key"])
    # Child rows are replaced for every rebuilt incident, unchanged ones included: the current
    # records may name another (equivalent) payload than before.
    for table in _CHILDREN:
        dst.execute(delete(table).where(table.c.incident_key.in_(keys)))
    if fresh:
        dst.execute(insert(T_INCIDENTS), fresh)
    if stale:
        columns = [c for c in stale[0] if c != "key"]
        statement = (update(T_INCIDENTS).where(T_INCIDENTS.c.key == bindparam("match_key"))
                     .values({c: bindparam(c) for c in columns}))
        dst.execute(statement, [dict(v, match_key=v["key"]) for v in stale])
    keyword_index.refresh(dst, [r["key"] for r in fresh] + [r["key"] for r in stale])
    for table in _CHILDREN:
        children = [dict(r._mapping) for r in src.execute(
            select(table).where(table.c.incident_key.in_(keys)))]
        if children:
            dst.execute(insert(table), children)


def _copy_docs(src: Connection, dst: Connection, now: datetime) -> None:
    rows = [dict(r._mapping) for r in src.execute(select(T_DOCS))]
    held = {(r.sha256, r.provider): r.ingested_at for r in dst.execute(
        select(T_DOCS.c.sha256, T_DOCS.c.provider, T_DOCS.c.ingested_at))}
    if not rows:
        return
    dst.execute(
        delete(T_DOCS).where(T_DOCS.c.sha256 == bindparam("d_sha"),
                             T_DOCS.c.provider == bindparam("d_provider")),
        [{"d_sha": r["sha256"], "d_provider": r["provider"]} for r in rows])
    dst.execute(insert(T_DOCS), [
        dict(r, ingested_at=held.get((r["sha256"], r["provider"])) or r["ingested_at"] or now)
        for r in rows])


def _copy_providers(src: Connection, dst: Connection) -> None:
    held = {r.slug for r in dst.execute(select(T_PROVIDERS.c.slug))}
    for row in src.execute(select(T_PROVIDERS)):
        values = {k: v for k, v in row._mapping.items() if k != "slug"}
        if row.slug not in held:
            dst.execute(insert(T_PROVIDERS).values(slug=row.slug, **values))
        else:
            keep = {k: v for k, v in values.items() if v is not None}
            if keep:
                dst.execute(update(T_PROVIDERS).where(T_PROVIDERS.c.slug == row.slug)
                            .values(**keep))
