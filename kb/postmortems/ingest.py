"""The store stage for postmortems: parsed PostmortemRecords of a batch → `postmortem_items`."""

from __future__ import annotations

from collections.abc import Iterable

from kb.postmortems.documents import url_key
from kb.store.postmortems import ItemCounts, ItemWrite, store_items
from kb.store.repo import Store
from scrapers.records import ParsedDoc, RawDoc


def store_doc_postmortems(store: Store,
                          batch: Iterable[tuple[str, RawDoc, ParsedDoc]]) -> dict[str, ItemCounts]:
    """Store the postmortem entries of each (provider, payload, parsed); counts per provider
    label (the payload's, e.g. "postmortems"). Payloads without entries cost nothing."""
    by_provider: dict[str, list[ItemWrite]] = {}
    for provider, doc, parsed in batch:
        for record in parsed.postmortems:
            by_provider.setdefault(provider, []).append(
                ItemWrite(record, url_key(record.url), doc.sha256, doc.url, doc.fetched_at))
    return {provider: store_items(store, writes) for provider, writes in by_provider.items()}
