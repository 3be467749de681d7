"""The store stage for signals: parsed SignalRecords of a batch of payloads → `signal_items`."""

from __future__ import annotations

import re
from collections.abc import Iterable

from kb.signals.config import OUTAGE_WORDS
from kb.store.repo import Store
from kb.store.signals import ItemCounts, ItemWrite, store_items
from scrapers.records import ParsedDoc, RawDoc

LISTING_FORMAT = "frontpage"  # scrapers.frontpage.NAME
# The search words of `kb signals fetch` (whole words, plurals too), not the linker's broader
# vocabulary: on whole front pages that one keeps "issue", "deleted" and "slow" stories with a
# github.com link, which the linker then tied to whatever GitHub incident was open (spot-check
# in docs/signals.md).
_LISTED_OUTAGE = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in OUTAGE_WORDS)
                            + r")s?\b", re.I)


def store_doc_signals(store: Store,
                      batch: Iterable[tuple[str, RawDoc, ParsedDoc]]) -> dict[str, ItemCounts]:
    """Store the signals of each (provider, payload, parsed) in the batch; counts per provider.
    Payloads without signals cost nothing.

    A recorded front page or feed log (format `frontpage`) lists every story of the day,
    nearly all about something else: only its stories whose title has one of the outage
    search words (`down`, `outage`, ...) are kept; the others would bury the signals list."""
    by_provider: dict[str, list[ItemWrite]] = {}
    for provider, doc, parsed in batch:
        listing = parsed.format == LISTING_FORMAT
        for record in parsed.signals:
            if listing and not _LISTED_OUTAGE.search(record.title):
                continue
            by_provider.setdefault(provider, []).append(
                ItemWrite(record, doc.sha256, doc.url, doc.fetched_at))
    return {provider: store_items(store, writes) for provider, writes in by_provider.items()}
