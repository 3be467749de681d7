"""The stored series of open-only snapshots (Statuspage summary.json) of each provider.

Read by the line to bound when an incident that dropped out of the series ended
(kb.normalize.snapshots). Revision d01 marks such payloads in `docs.lists_open_only`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from kb.store.repo import T_DOCS, Store


def open_snapshots(store: Store, providers: Iterable[str]) -> dict[str, list[tuple[datetime, str]]]:
    """provider → [(taken at, sha256)] of its stored open-only snapshots, oldest first.

    "Taken at" is the payload's own time (`as_of`, a summary's page.updated_at), else its
    fetch time."""
    wanted = sorted(set(providers))
    found: dict[str, list[tuple[datetime, str]]] = {p: [] for p in wanted}
    if not wanted:
        return found
    query = select(T_DOCS.c.provider, T_DOCS.c.sha256, T_DOCS.c.as_of, T_DOCS.c.fetched_at).where(
        T_DOCS.c.lists_open_only.is_(True), T_DOCS.c.provider.in_(wanted))
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            found[row.provider].append((row.as_of or row.fetched_at, row.sha256))
    for series in found.values():
        series.sort()
    return found
