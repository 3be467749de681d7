"""Which incidents each stored payload went into: the reverse of `Incident.sources`.

The line skips a payload whose bytes are already stored without parsing it, yet the run
summary counts the distinct incidents such payloads hold. Revision r01 indexes
incident_sources by sha256 so this is a look-up per payload, not a table scan.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from kb.store.repo import T_SOURCES, Store
from kb.store.tables import chunks


def incidents_of_payloads(store: Store, sha256s: Sequence[str]) -> dict[str, set[str]]:
    """sha256 → keys of the incidents whose sources include that payload (any URL).
    Hashes no stored incident refers to are absent from the answer."""
    found: dict[str, set[str]] = {}
    wanted = sorted(set(sha256s))
    with store.engine.connect() as conn:
        for chunk in chunks(wanted):
            query = select(T_SOURCES.c.sha256, T_SOURCES.c.incident_key).where(
                T_SOURCES.c.sha256.in_(chunk))
            for row in conn.execute(query):
                found.setdefault(row.sha256, set()).add(row.incident_key)
    return found
