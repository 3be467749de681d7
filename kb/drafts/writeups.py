"""What linked published postmortems add to a draft: the cause, trigger, contributing
factors, resolution and remediation they state, each sentence cited to the write-up.

A write-up's text is read by the same sentence rules as the provider's status updates
(kb.drafts.prose); contributing factors are the sentences that say so. Each quote cites the
write-up ("[^w1]: Published postmortem: <title>, <url>"), checked against the postmortem
store by `check_draft`. Nothing is paraphrased: the draft quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from kb.drafts import prose
from kb.drafts.citations import CitationKind, Citations, Fact
from kb.model import Incident, Phase, Update
from kb.store.repo import Store

_CONTRIBUTING = re.compile(r"\bcontribut\w*\b", re.I)
_REMEDIATION = re.compile(
    r"\b(?:we (?:have|are|will)|going forward|to prevent|prevent (?:this|similar|a recurrence)|"
    r"remediat\w*|action items?|improv\w+|(?:have|has) (?:since )?(?:added|changed|"
    r"implemented|introduced|deployed))\b", re.I)
_FUTURE_ONLY = re.compile(r"\b(?:will|going forward|plan to|are (?:working|adding))\b", re.I)
LIMIT = 3  # quotes per section and write-up


@dataclass(frozen=True)
class WriteupFacts:
    """Quotes from the linked write-ups, by draft section (empty: none says)."""

    causes: tuple[Fact, ...] = ()
    trigger: tuple[Fact, ...] = ()
    resolution: tuple[Fact, ...] = ()
    follow_ups: tuple[Fact, ...] = ()


def collect(store: Store, incident: Incident, cite: Citations) -> WriteupFacts:
    """The quotes of every postmortem linked to `incident` (none where no store holds any)."""
    try:
        from kb.postmortems.figures import incident_postmortems

        linked = incident_postmortems(store, incident.key)
    except Exception:  # no postmortem tables in this database: nothing to add
        return WriteupFacts()
    causes: list[Fact] = []
    trigger: list[Fact] = []
    resolution: list[Fact] = []
    follow: list[Fact] = []
    for doc, link in linked:
        label = cite.external(
            "w", f"Published postmortem ({link.confidence} confidence link): {doc.title}",
            url=doc.url, at=doc.published_at, refs=(doc.id,), kind=CitationKind.POSTMORTEM)
        text = "\n\n".join(filter(None, (doc.summary, doc.text)))
        update = Update(at=doc.start or doc.published_at or datetime(1970, 1, 1, tzinfo=UTC),
                        phase=Phase.POSTMORTEM, label="postmortem", body=text, text=text)

        def facts(found: list[prose.Quote], label: str = label) -> list[Fact]:
            return [Fact(q.text, (label,), quote=True) for q in found]

        causes += facts(prose.quotes([update], prose.is_cause, limit=LIMIT))
        causes += facts(prose.quotes([update], lambda s: bool(_CONTRIBUTING.search(s)),
                                     limit=LIMIT))
        trigger += facts(prose.triggers([update], limit=LIMIT))
        resolution += facts(prose.resolutions([update], limit=LIMIT))
        follow += facts(prose.quotes(
            [update], lambda s: bool(_REMEDIATION.search(s)) and not _FUTURE_ONLY.match(s),
            limit=LIMIT, latest=True))
    return WriteupFacts(*(tuple(dict.fromkeys(f)) for f in (causes, trigger, resolution,
                                                             follow)))
