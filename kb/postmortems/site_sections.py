"""Published postmortems on the site (kb.render.sections): a library at /writeups/ (one page
per write-up, and index pages by provider, year and category) and a slot on incident and
provider pages linking to it; write-up pages link back to their incidents.

Every string here is third-party text handed over as blocks (Text, Links, Figures, Table):
the site's templates escape them; nothing here writes HTML or Markdown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from kb.model import Incident
from kb.render.sections import (
    Block,
    Collection,
    ExternalLink,
    Figures,
    IncidentLink,
    Links,
    Page,
    PageLink,
    Section,
    Table,
    Text,
)
from kb.store import Store
from kb.store.postmortems import Postmortem, PostmortemLink, links, postmortems

__all__ = ["COLLECTIONS", "SECTIONS"]

NAME = "writeups"  # /writeups/<slug>/ ("postmortems" is the drafts' collection)
TEXT_CHARS = 4000  # of the write-up's text on its page (the source has the rest)


@dataclass(frozen=True)
class _State:
    docs: dict[str, Postmortem]
    by_doc: dict[str, list[PostmortemLink]]
    by_incident: dict[str, list[PostmortemLink]]
    by_provider: dict[str, list[Postmortem]]


def _prepare(store: Store) -> _State:
    """Every document and link, loaded once per build (none where the tables are absent)."""
    try:
        docs = postmortems(store)
        found = links(store)
    except Exception:  # a KB without the p01 tables: nothing to show
        docs, found = [], []
    by_doc: dict[str, list[PostmortemLink]] = defaultdict(list)
    by_incident: dict[str, list[PostmortemLink]] = defaultdict(list)
    for link in found:
        by_doc[link.postmortem_id].append(link)
        by_incident[link.incident_key].append(link)
    by_provider: dict[str, list[Postmortem]] = defaultdict(list)
    for doc in docs:
        for provider in doc.providers:
            by_provider[provider].append(doc)
    return _State({d.id: d for d in docs}, dict(by_doc), dict(by_incident), dict(by_provider))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "none"


def _year(doc: Postmortem) -> str:
    return f"{doc.start:%Y}" if doc.start else "undated"


def _doc_link(doc: Postmortem, note: str | None = None) -> PageLink:
    when = f"{doc.start:%Y-%m-%d}" if doc.start else "no stated time"
    return PageLink(NAME, doc.id, doc.title, note=note or f"{doc.company or '?'}, {when}")


# -- incident and provider slots ----------------------------------------------------------------


def _incident(state: _State, incident: Incident) -> list[Block] | None:
    found = state.by_incident.get(incident.key)
    if not found:
        return None
    items: list[PageLink | ExternalLink | IncidentLink] = []
    for link in found:
        doc = state.docs.get(link.postmortem_id)
        if doc is None:
            continue
        why = str(link.evidence.get("why", ""))
        items.append(_doc_link(doc, note=f"linked with {link.confidence} confidence: {why}"))
        items.append(ExternalLink(url=doc.url, text=doc.url, note="the write-up itself"))
    return [Links(items, caption="Write-ups about this incident")] if items else None


def _provider(state: _State, provider: str) -> list[Block] | None:
    docs = state.by_provider.get(provider)
    if not docs:
        return None
    return [Links([_doc_link(d) for d in docs], caption=f"{len(docs)} published write-ups"),
            Links([PageLink(NAME, f"provider-{_slug(provider)}", "All of them, by year")])]


# -- the library ------------------------------------------------------------------------------


def _doc_page(state: _State, doc: Postmortem) -> Page:
    pairs = [("company", doc.company or "not stated"),
             ("product", ", ".join(doc.products) or "not stated"),
             ("provider here", ", ".join(doc.providers) or "none followed"),
             ("stated start", f"{doc.start:%Y-%m-%d %H:%M} UTC" if doc.start else "not stated"),
             ("stated end", f"{doc.end:%Y-%m-%d %H:%M} UTC" if doc.end else "not stated"),
             ("categories", ", ".join(doc.categories) or "none"),
             ("sources", ", ".join(s for s, _ in doc.sources))]
    if doc.status != "linkable":
        pairs.append(("status", f"{doc.status}: {doc.reason}"))
    blocks: list[Block] = [Figures(pairs, caption="As the lists state it")]
    links_out: list[ExternalLink | PageLink | IncidentLink] = [
        ExternalLink(url=doc.url, text=doc.url, note="the write-up")]
    if doc.archive_url:
        links_out.append(ExternalLink(url=doc.archive_url, text=doc.archive_url,
                                      note="archived copy"))
    blocks.append(Links(links_out))
    if doc.summary:
        blocks.append(Text(doc.summary))
    found = state.by_doc.get(doc.id, [])
    if found:
        blocks.append(Links([IncidentLink(k.incident_key, note=f"{k.confidence}: "
                                          f"{k.evidence.get('why', '')}", score=k.score)
                             for k in found], caption="Incidents it is about"))
    elif doc.candidates:
        blocks.append(Table(("considered", "why not linked"), [
            (str(c.get("incident_key") or c.get("provider") or ""), str(c.get("why", "")))
            for c in doc.candidates], caption="Not linked to an incident"))
    if doc.text and doc.text != doc.summary:
        clipped = doc.text[:TEXT_CHARS] + (" […]" if len(doc.text) > TEXT_CHARS else "")
        blocks.append(Text(clipped))
    return Page(doc.id, doc.title, blocks,
                summary=f"{doc.company or '?'} · {_year(doc)} · {len(found)} incidents")


def _index(slug: str, title: str, docs: list[Postmortem]) -> Page:
    return Page(slug, title, [Links([_doc_link(d) for d in docs])],
                summary=f"{len(docs)} write-ups")


def _pages(state: _State) -> list[Page]:
    docs = list(state.docs.values())
    pages = [_doc_page(state, d) for d in docs]
    # keyed by slug: the lists spell one category differently ("Time", "time")
    groups: dict[tuple[str, str], list[Postmortem]] = defaultdict(list)
    names: dict[tuple[str, str], str] = {}
    for doc in docs:
        values = [("provider", p) for p in doc.providers or ("not followed",)]
        values.append(("year", _year(doc)))
        values += [("category", c) for c in doc.categories or ("uncategorized",)]
        for kind, value in values:
            key = (kind, _slug(value))
            names.setdefault(key, value)
            if not groups[key] or groups[key][-1].id != doc.id:  # one doc's values in a row
                groups[key].append(doc)
    for (kind, slug), members in sorted(groups.items()):
        label = {"provider": "Provider", "year": "Year", "category": "Category"}[kind]
        pages.append(_index(f"{kind}-{slug}", f"{label}: {names[(kind, slug)]}", members))
    return pages


SECTIONS = [
    Section(name="writeups", title="Published postmortems", provide=_incident, order=65,
            prepare=_prepare,
            note="Official write-ups and analyses linked to this incident (kb.postmortems), "
                 "with the confidence and the reason of each link."),
    Section(name="writeups", title="Published postmortems", provide=_provider,
            scope="provider", order=65, prepare=_prepare),
]

COLLECTIONS = [
    Collection(name=NAME, title="Published postmortems", pages=_pages, prepare=_prepare,
               note="Public postmortems from the corpus's lists, one page each with the "
                    "incidents it is linked to (or why none), and pages by provider "
                    "(provider-…), year (year-…) and category (category-…)."),
]
