"""Community signals' titles as extra text for an incident's search document (kb.embed).

"Claude is down" threads name the symptoms users saw in their own words, which is often how
the next person searches. Only links of high or medium confidence contribute, so a
borderline link cannot pull an incident's vector towards an unrelated story.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kb.store import Store

CONFIDENT = frozenset({"high", "medium"})


def linked_titles(store: Store, keys: Sequence[str]) -> Mapping[str, Sequence[str]]:
    """incident key → titles of the stories confidently linked to it (best link first)."""
    from kb.store.signals import links, signals

    wanted = set(keys)
    chosen = [link for link in links(store)
              if link.incident_key in wanted and link.confidence in CONFIDENT]
    if not chosen:
        return {}
    titles = {signal.id: signal.title for signal in signals(store)}
    found: dict[str, list[str]] = {}
    for link in chosen:  # links() is ordered best first
        title = titles.get(link.signal_id)
        if title and title not in found.setdefault(link.incident_key, []):
            found[link.incident_key].append(title)
    return found
