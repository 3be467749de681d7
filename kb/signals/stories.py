"""Stored items → stories (`Signal`s): grouped, merged, classified and matched to providers."""

from __future__ import annotations

from collections.abc import Sequence

from kb.model import Signal, SignalSource
from kb.signals.config import SignalConfig
from kb.signals.dedupe import DISCUSSION_FAMILIES, canonical_url, group_items, is_specific
from kb.signals.dedupe import signal_id as make_id
from kb.signals.kinds import classify
from kb.signals.match import match_providers
from kb.store.signals import StoredItem

TOP_COMMENTS = 5


def build_signals(items: Sequence[StoredItem], config: SignalConfig) -> list[Signal]:
    """One Signal per story, oldest first."""
    return [build_signal(group, config) for group in group_items(items)]


def build_signal(group: Sequence[StoredItem], config: SignalConfig) -> Signal:
    """Merge a group of items about one story."""
    records = [item.record for item in group]
    threads = [r for r in records if r.source in DISCUSSION_FAMILIES]
    articles = [r for r in records if r.source == "news"]
    # The publisher's own title reads best; otherwise the first thread's.
    lead = articles[0] if articles else records[0]
    urls: list[str] = []
    for item in group:
        for url in (item.resolved_url, item.record.url):
            canonical = canonical_url(url)
            if canonical and is_specific(canonical) and "news.google.com" not in canonical:
                urls.append(url)  # type: ignore[arg-type]
    raw_urls = [u for item in group for u in (item.resolved_url, item.record.url,
                                               item.record.discussion_url) if u]
    text = max((r.text for r in records), key=len, default="")
    comments = [c for r in threads for c in r.top_comments][:TOP_COMMENTS]
    notes = [n for r in records for n in r.notes] + [i.fetch_note for i in group if i.fetch_note]
    created = [r.created_at for r in records if r.created_at is not None]
    families = {r.source for r in records}
    kind = classify(lead.title, families=families,
                    urls=[u for i in group for u in (i.resolved_url, i.record.url) if u])
    matches = match_providers(lead.title, raw_urls, text, config.providers)
    if not matches and lead is not records[0]:  # a thread's title may name it when the
        matches = match_providers(records[0].title, raw_urls, text, config.providers)
    return Signal(
        id=make_id(group),
        title=lead.title,
        url=urls[0] if urls else (lead.url or None),
        discussion_url=next((r.discussion_url for r in threads if r.discussion_url), None),
        created_at=min(created) if created else None,
        kind=kind,
        providers=tuple(m.provider for m in matches),
        sources=tuple(
            SignalSource(r.source, r.native_id, i.resolved_url or r.url, r.discussion_url,
                         r.created_at, r.site, r.points, r.comments)
            for i, r in zip(group, records, strict=True)
        ),
        site=lead.site,
        author=records[0].author,
        points=_total(r.points for r in threads),
        comments=_total(r.comments for r in threads),
        threads=len({(r.source, r.native_id) for r in threads}),
        text=text,
        top_comments=tuple(comments),
        notes=tuple(dict.fromkeys(notes)),
    )


def _total(values) -> int | None:  # type: ignore[no-untyped-def]
    known = [v for v in values if v is not None]
    return sum(known) if known else None
