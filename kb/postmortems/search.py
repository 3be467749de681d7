"""Published write-ups found by keyword: `kb search QUERY --kind postmortem`.

Every stored postmortem document is in the write-up keyword index (kb.store.keyword,
revision p02), linked to an incident or not, so a write-up about an incident this KB does not
hold, or of a provider it does not follow, is found by its words too. Keyword (BM25) only:
write-ups have no vectors of their own (a linked write-up's words join its incidents'
embedded documents, kb.postmortems.document_texts, which `kb search` without --kind finds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.store import Store
from kb.store.keyword import writeup_search
from kb.store.postmortems import Postmortem, PostmortemLink, links, postmortems


@dataclass(frozen=True)
class WriteupHit:
    """One write-up found, its score (higher is better) and the incidents it is linked to."""

    doc: Postmortem
    score: float
    links: tuple[PostmortemLink, ...]


def search_writeups(store: Store, terms: Sequence[str], k: int,
                    provider: str | None = None) -> list[WriteupHit]:
    """The `k` write-ups whose title and text best match `terms` (kb.embed.index.query_terms
    of the query), best first; only those about `provider` when given."""
    found = writeup_search(store, list(terms), k if provider is None else max(10 * k, 200))
    if not found:
        return []
    docs = {d.id: d for d in postmortems(store, ids=[i for i, _ in found])}
    hits = []
    for doc_id, score in found:
        doc = docs.get(doc_id)
        if doc is not None and (provider is None or provider in doc.providers):
            hits.append(WriteupHit(doc, score, tuple(links(store, postmortem_id=doc_id))))
    return hits[:k]
