"""The `postmortems` stage of `kb update`: entries → documents → links, kept current.

Inputs: the stored list entries (`postmortem_items`) and the status pages' own incident
reports (an update in the postmortem phase, e.g. Google Cloud's "Incident Report"), which
are postmortem documents too: one per incident, at the incident's URL, so a list entry
citing that page merges with it. Keyed by fingerprints of the inputs (entries, incidents,
terms, rules): with nothing changed the stage does no work; when it runs, the store writes
nothing if the result equals what it holds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.model import Incident, Phase
from kb.postmortems.documents import build_documents, url_key
from kb.postmortems.link import STATUS_PAGE, Linker, Rules
from kb.signals.config import ProviderTerms
from kb.store.postmortems import (
    Postmortem,
    PostmortemLink,
    StoredItem,
    get_state,
    incidents_with_postmortem_updates,
    items_fingerprint,
    load_items,
    replace_derived,
)
from kb.store.repo import Store
from kb.store.signals import incidents_fingerprint
from scrapers.records import PostmortemRecord

LINKER_VERSION = "1"  # bump when the rules change in a way the fingerprint cannot see
_STATE = "postmortem_inputs"

if TYPE_CHECKING:
    from kb.stage import StageContext


@dataclass
class PostmortemReport:
    documents: int = 0
    links: int = 0
    by_confidence: dict[str, int] = field(default_factory=dict)
    linked_documents: int = 0
    changed: bool = False
    skipped: bool = False  # nothing changed since the last run

    def line(self) -> str:
        if self.skipped:
            return "postmortems already current"
        confidences = ", ".join(f"{n} {c}" for c, n in sorted(self.by_confidence.items()))
        return (f"{self.documents} postmortems, {self.linked_documents} linked to incidents "
                f"({self.links} links: {confidences or 'none'})")


def link_documents(docs: list[Postmortem], incidents, terms, rules: Rules | None = None
                   ) -> tuple[list[Postmortem], list[PostmortemLink]]:  # type: ignore[no-untyped-def]
    """Documents (with the candidates each considered) and their links (pure)."""
    linker = Linker(incidents, terms, rules)
    out_docs, out_links = [], []
    for doc in docs:
        found, doc = linker.link(doc)
        out_docs.append(doc)
        out_links.extend(found)
    return out_docs, out_links


def status_page_items(store: Store) -> list[StoredItem]:
    """A document for each incident whose timeline holds a postmortem-phase update."""
    out = []
    for key in incidents_with_postmortem_updates(store):
        incident = store.get(key)
        record = status_page_record(incident)
        if record is not None:
            out.append(StoredItem(record, url_key(record.url), f"incident {key}"))
    return out


def status_page_record(incident: Incident) -> PostmortemRecord | None:
    """The incident report a status page posted on `incident` (its postmortem-phase updates),
    as a postmortem record; None without one, or without an incident URL to cite."""
    reports = [u for u in incident.updates if u.phase is Phase.POSTMORTEM and u.text.strip()]
    if not reports or not incident.url:
        return None
    life = incident.lifecycle
    window = incident.impact_window
    return PostmortemRecord(
        source=STATUS_PAGE, native_id=incident.key, url=incident.url,
        title=f"{incident.title} (incident report)", company=None,
        start=window.start if window else life.first_post_at,
        end=(window.end if window and window.end else life.resolved_at),
        published_at=reports[0].at, summary="", text="\n\n".join(u.text for u in reports))


def relink(store: Store, terms: list[ProviderTerms], *, force: bool = False
           ) -> PostmortemReport:
    """Rebuild documents and links from the stored entries, the status pages' incident
    reports and the incidents, when any input changed (or with `force`)."""
    fingerprint = hashlib.sha256("\n".join([
        LINKER_VERSION, repr(terms), repr(Rules()), items_fingerprint(store),
        incidents_fingerprint(store)]).encode()).hexdigest()
    if not force and get_state(store, _STATE) == fingerprint:
        return PostmortemReport(skipped=True)
    docs = build_documents([*load_items(store), *status_page_items(store)], terms)
    report = PostmortemReport(documents=len(docs))
    wanted = {p for d in docs for p in d.providers}
    incidents = [i for slug in sorted(wanted) for i in store.incidents(provider=slug)]
    docs, links = link_documents(docs, incidents, terms)
    report.changed = replace_derived(store, docs, links, {_STATE: fingerprint})
    report.links = len(links)
    report.linked_documents = len({k.postmortem_id for k in links})
    report.by_confidence = dict(Counter(k.confidence for k in links))
    return report


def postmortem_stage(context: StageContext) -> str | None:
    """Link postmortems when anything changed; a note only then."""
    from kb.signals.stage import config_for

    report = relink(context.store, list(config_for(context.settings).providers))
    return report.line() if report.changed else None
