"""Reading every incident without holding the KB: batches of a bounded size, one short query
each (keyset pagination on the key), so a command's memory is one batch whatever the count.

`Store.incidents()` yields one incident at a time too, but through one long query: SQLite
reads it lazily, while psycopg's default (client-side) cursor fetches the whole result, every
stored timeline, before the first row is yielded. A batch query here is `key > last ORDER BY
key LIMIT n`: the same order as `Store.incidents()` (by key), the same on both databases, and
no read transaction held open while the caller works on a batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sqlalchemy import select

from kb.model import Incident
from kb.serialize import incident_from_dict
from kb.store.repo import T_INCIDENTS, Store

BATCH = 500  # incidents per query: a few MB of timelines at the corpus' sizes (2000: +23 MB)


def incident_batches(store: Store, *, providers: Iterable[str] | None = None,
                     kind: str | None = None, batch: int = BATCH) -> Iterator[list[Incident]]:
    """Every incident (of `providers`, of `kind`, when given) in key order, `batch` at a
    time. An empty `providers` yields nothing; None means every provider."""
    if batch < 1:
        raise ValueError(f"batch must be positive, not {batch}")
    c = T_INCIDENTS.c
    wanted = None if providers is None else sorted(set(providers))
    if wanted == []:
        return
    last: str | None = None
    while True:
        query = select(c.key, c.doc_json).order_by(c.key).limit(batch)
        if wanted is not None:
            query = query.where(c.provider.in_(wanted))
        if kind:
            query = query.where(c.kind == kind)
        if last is not None:
            query = query.where(c.key > last)
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [incident_from_dict(json.loads(doc)) for _key, doc in rows]
        if len(rows) < batch:
            return


def iter_incidents(store: Store, *, providers: Iterable[str] | None = None,
                   kind: str | None = None, batch: int = BATCH) -> Iterator[Incident]:
    """`incident_batches`, one incident at a time: a drop-in for `Store.incidents()` (key
    order) that holds at most one batch."""
    for chunk in incident_batches(store, providers=providers, kind=kind, batch=batch):
        yield from chunk
