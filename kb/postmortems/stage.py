"""The `postmortems` stage of `kb update`: entries → documents → links, kept current.

Rebuilt from `postmortem_items` and the incidents on each run (a few hundred documents take
well under a second); the store writes nothing when the result equals what it holds, so a
rerun with nothing changed changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.postmortems.documents import build_documents
from kb.postmortems.link import Linker, Rules
from kb.signals.config import ProviderTerms
from kb.store.postmortems import Postmortem, PostmortemLink, load_items, replace_derived
from kb.store.repo import Store

if TYPE_CHECKING:
    from kb.stage import StageContext


@dataclass
class PostmortemReport:
    documents: int = 0
    links: int = 0
    by_confidence: dict[str, int] = field(default_factory=dict)
    linked_documents: int = 0
    changed: bool = False

    def line(self) -> str:
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


def relink(store: Store, terms: list[ProviderTerms]) -> PostmortemReport:
    """Rebuild documents and links from the stored entries and incidents."""
    docs = build_documents(load_items(store), terms)
    report = PostmortemReport(documents=len(docs))
    if not docs:
        return report
    wanted = {p for d in docs for p in d.providers}
    incidents = [i for slug in sorted(wanted) for i in store.incidents(provider=slug)]
    docs, links = link_documents(docs, incidents, terms)
    report.changed = replace_derived(store, docs, links)
    report.links = len(links)
    report.linked_documents = len({k.postmortem_id for k in links})
    report.by_confidence = dict(Counter(k.confidence for k in links))
    return report


def postmortem_stage(context: StageContext) -> str | None:
    """Link postmortems when anything changed; a note only then."""
    from kb.signals.stage import config_for

    report = relink(context.store, list(config_for(context.settings).providers))
    return report.line() if report.changed else None
