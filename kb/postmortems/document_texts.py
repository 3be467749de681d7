"""Linked postmortems' words as extra text for an incident's search document (kb.embed).

A write-up names the cause in the words an engineer later searches with ("thundering herd
after a config push", "MySQL failover", "BGP"), which the status updates rarely do. Its title,
summary and keywords join the document of each incident it is linked to with high or medium
confidence (every link is one of those), so `kb search` and `kb similar` find the incident by
them; the whole body is not added (a 5,000-word report would drown the incident's own
updates in its pooled vector).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kb.store import Store

CONFIDENT = frozenset({"high", "medium"})


def linked_texts(store: Store, keys: Sequence[str]) -> Mapping[str, Sequence[str]]:
    """incident key → title, summary and keywords of the write-ups linked to it."""
    from kb.store.postmortems import links, postmortems

    wanted = set(keys)
    chosen = [k for k in links(store) if k.incident_key in wanted and k.confidence in CONFIDENT]
    if not chosen:
        return {}
    docs = {d.id: d for d in postmortems(store, ids={k.postmortem_id for k in chosen})}
    found: dict[str, list[str]] = {}
    for link in chosen:  # best link first
        doc = docs.get(link.postmortem_id)
        if doc is None:
            continue
        texts = found.setdefault(link.incident_key, [])
        texts.append(doc.title if doc.title.endswith((".", "!", "?")) else doc.title + ".")
        if doc.summary:
            texts.append(doc.summary)
        if doc.keywords:
            texts.append("Keywords: " + ", ".join(doc.keywords) + ".")
    return found
