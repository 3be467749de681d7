"""Postmortems ↔ incidents: which incidents a write-up is about, with confidence and evidence.

Many-to-many: a monthly availability report covers several incidents, an incident may have
an annotated write-up and a news analysis. For each provider a document maps to, the first
rule that links decides:

1. url — the write-up is the provider's status-page incident (`/incidents/<id>`,
   `/incident/<service>/<id>`): linked to that incident whatever the time (high). When that
   incident is not stored, no other rule links the document to this provider.
2. window — (status `linkable` only) incidents whose interval (first post or impact start to
   resolution or impact end, kb.model) overlaps the stated window, widened by `slack`. Time
   alone never links: an incident also needs words in common (`similarity`, the larger of the
   write-up's key words found in the incident and the incident's title words found in the
   write-up) of at least `min_similarity`, or a product the write-up names among its
   components; high at `high_similarity` or with a component, else medium.
3. day — a day the text names ("On December 7, 2021"), for undated documents and for dated
   ones that matched nothing: incidents first posted that day (± `day_slack`), with words in
   common as in 2.
4. only — late write-ups: when 2 or 3 found candidates in time but none with words in common,
   the one incident in the window is linked with medium confidence when it is the only one of
   the provider there and the write-up uses outage vocabulary ("the only incident ...").

A status page's own incident report (a postmortem-phase update, kb.postmortems.stage) that no
list cites is linked by rule 1 only.

Everything else is left unlinked and keeps the candidates considered (key, title, score,
why not), shown with the document. Historical, other-language and unmapped documents are
linked by rule 1 at most. Thresholds were set on the tuning half of the labelled pairs
(bench/eval_postmortems.py, docs/postmortems.md); the held-out half was not looked at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from kb.model import Incident, Kind, Severity
from kb.signals.config import ProviderTerms
from kb.signals.kinds import is_outage, named_date
from kb.signals.match import containment, incident_tokens, names_in, tokens
from kb.store.postmortems import Postmortem, PostmortemLink

STATUS_PAGE = "status-page"  # kb.postmortems.stage: a status page's own incident report
_INCIDENT_PATH = re.compile(r"/incidents?/(?:[a-z0-9_-]+/)?([A-Za-z0-9_-]{4,})(?:[/?#]|$)")


_SEVERE = (Severity.MAJOR, Severity.CRITICAL)
_PLACES = {"window": "stated window", "day": "named day", "late": "week before publication"}


def _named_days(text: str, written: datetime) -> list[date]:
    """Every day the text's sentences name (each sentence's first), in order."""
    days = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        day = named_date(sentence, written + timedelta(days=60))
        if day is not None and day >= written.date():
            days.append(day)
    return days


def _own_report_only(doc: Postmortem) -> bool:
    """A status page's own incident report, cited by no list: it belongs to its incident (the
    url rule). Its long text shares words with every incident of those days; on the corpus's
    Google Cloud reports, word links to other incidents were wrong about as often as right."""
    return {source for source, _ in doc.sources} == {STATUS_PAGE}


@dataclass(frozen=True)
class Rules:
    """Windows and thresholds of the linker (see the module docstring)."""

    slack: timedelta = timedelta(hours=3)
    open_for: timedelta = timedelta(hours=12)  # a stated start without end covers so long
    day_slack: timedelta = timedelta(days=1)
    min_similarity: float = 0.2
    high_similarity: float = 0.4
    max_candidates: int = 5
    report_days: timedelta = timedelta(days=14)  # a report of several days spans at most so long
    late_before: timedelta = timedelta(days=7)  # a late write-up follows its incident by so long


@dataclass
class _Candidate:
    incident: Incident
    similarity: float
    component: str | None
    how: str  # what placed it in time: "window" | "day"


def _interval(incident: Incident, rules: Rules) -> tuple[datetime, datetime] | None:
    life = incident.lifecycle
    starts = [t for t in (life.first_post_at, life.vendor_started_at,
                          incident.impact_window.start if incident.impact_window else None) if t]
    if not starts:
        return None
    start = min(starts)
    ends = [t for t in (life.resolved_at,
                        incident.impact_window.end if incident.impact_window else None) if t]
    return start, max([*ends, start + (timedelta(0) if ends else rules.open_for)])


class Linker:
    """Links postmortem documents to the given incidents (maintenance is never linked)."""

    def __init__(self, incidents: Sequence[Incident], terms: Sequence[ProviderTerms],
                 rules: Rules | None = None) -> None:
        self.rules = rules or Rules()
        self.terms = {t.slug: t for t in terms}
        self.by_provider: dict[str, list[Incident]] = {}
        self.by_native: dict[tuple[str, str], Incident] = {}
        for incident in incidents:
            if incident.kind is not Kind.INCIDENT:
                continue
            self.by_native[(incident.provider, incident.native_id)] = incident
            if _interval(incident, self.rules) is not None:
                self.by_provider.setdefault(incident.provider, []).append(incident)
        self._words: dict[str, set[str]] = {}

    def link(self, doc: Postmortem) -> tuple[list[PostmortemLink], Postmortem]:
        """The links of one document, and the document with the candidates it considered."""
        found: list[PostmortemLink] = []
        considered: list[dict] = []
        for provider in doc.providers:
            by_url = self._by_url(doc, provider)
            if isinstance(by_url, str):
                considered.append({"provider": provider, "why": by_url})
                continue
            if by_url is not None:
                found.append(by_url)
            if doc.status not in ("linkable", "undated") or _own_report_only(doc):
                continue
            # A status-page report also covers the other incidents of its event (the same
            # outage posted per product): those need words in common, never time alone.
            links, seen = self._by_time(doc, provider, words_only=by_url is not None)
            found.extend(k for k in links if by_url is None
                         or k.incident_key != by_url.incident_key)
            considered.extend(seen)
        kept = () if found else tuple(considered[: self.rules.max_candidates])
        return found, replace(doc, candidates=kept)

    # -- rules -------------------------------------------------------------------------

    def _by_url(self, doc: Postmortem, provider: str) -> PostmortemLink | str | None:
        terms = self.terms.get(provider)
        hosts = terms.status_hosts if terms else ()
        for url in filter(None, (doc.url, doc.archive_url)):
            lowered = url.lower()
            if not any(h in lowered for h in hosts):
                continue
            match = _INCIDENT_PATH.search(url.split("web.archive.org/", 1)[-1].split("#")[0])
            if not match:
                continue
            native = match.group(1)
            incident = self.by_native.get((provider, native))
            if incident is None:
                return f"its URL is status-page incident {native!r}, which this KB does not hold"
            return PostmortemLink(doc.id, incident.key, provider, 1.0, "high", "url",
                                  {"url": url, "why": "the write-up is this incident's page"})
        return None

    def _by_time(self, doc: Postmortem, provider: str, *, words_only: bool = False
                 ) -> tuple[list[PostmortemLink], list[dict]]:
        rules = self.rules
        incidents = self.by_provider.get(provider, [])
        placed: list[_Candidate] = []
        window = self._window(doc)
        if window is not None:
            placed = self._candidates(doc, provider, incidents, window, "window")
        day = None
        if not placed:
            day = self._named_day(doc)
            if day is not None:
                start = datetime.combine(day, time(), tzinfo=UTC)
                placed = self._candidates(doc, provider, incidents,
                                          (start - rules.day_slack,
                                           start + timedelta(days=1) + rules.day_slack), "day")
        links = []
        only = "only"  # what makes a lone candidate the one: the only incident, or major one
        for cand in placed:
            if cand.similarity >= rules.min_similarity or cand.component:
                high = cand.similarity >= rules.high_similarity or cand.component is not None
                links.append(self._make(doc, provider, cand, "high" if high else "medium",
                                        cand.how, window, day))
        if window is None and day is None and doc.published_at is not None:
            # a late write-up naming no time and no day: the days before it was published
            late = (doc.published_at - rules.late_before, doc.published_at)
            placed = self._candidates(doc, provider, incidents, late, "late")
            links = [self._make(doc, provider, c, "medium", "late", None, None)
                     for c in placed if c.similarity >= rules.min_similarity or c.component]
            severe = [c for c in placed if c.incident.severity in _SEVERE]
            if not links and len(placed) > 1 and len(severe) == 1:
                placed, only = severe, "only major"
        if (not links and not words_only and len(placed) == 1
                and is_outage(f"{doc.title} {doc.summary}")):
            cand = placed[0]
            links.append(self._make(
                doc, provider, cand, "medium", "only", window, day,
                why=f"the {only} {provider} incident in the {_PLACES[cand.how]}, and the "
                    "write-up uses outage vocabulary; few words in common"))
        several = f"one of {len(placed)} incidents in time, " if len(placed) > 1 else ""
        considered = [] if links else [
            {"incident_key": c.incident.key, "title": c.incident.title,
             "similarity": round(c.similarity, 3), "placed_by": c.how,
             "why": f"{several}too few words in common"
                    + ("" if several or words_only else ", and no outage vocabulary")}
            for c in sorted(placed, key=lambda c: -c.similarity)]
        if not placed and not links:
            if window is None and day is None:
                considered.append({"provider": provider,
                                   "why": "states no time and names no day"})
            else:
                considered.append({"provider": provider,
                                   "why": "no incident of this provider is stored in the "
                                          "stated window or the named day"})
        return links, considered

    # -- pieces ------------------------------------------------------------------------

    def _window(self, doc: Postmortem) -> tuple[datetime, datetime] | None:
        if doc.status != "linkable" or doc.start is None:
            return None
        end = doc.end if doc.end and doc.end >= doc.start else None
        if end is None:
            midnight = doc.start.time() == time()
            end = doc.start + (timedelta(days=1) if midnight else self.rules.open_for)
            # "May 9-11": a report of several days names each; the window runs to the last
            # day it names within `report_days` of the start
            for day in _named_days(f"{doc.summary} {doc.text[:4000]}", doc.start):
                later = datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=1)
                if end < later <= doc.start + self.rules.report_days:
                    end = later
        return doc.start - self.rules.slack, end + self.rules.slack

    def _named_day(self, doc: Postmortem) -> date | None:
        text = f"{doc.summary} {doc.text[:1500]}"
        written = doc.published_at or doc.start
        if written is not None:
            return named_date(text, written)
        # without a writing date a "December 7" could be any year: only a day with its year
        day = named_date(text, datetime.now(UTC))
        return day if day is not None and str(day.year) in text else None

    def _candidates(self, doc: Postmortem, provider: str, incidents: list[Incident],
                    window: tuple[datetime, datetime], how: str) -> list[_Candidate]:
        out = []
        doc_words = self._doc_words(doc, provider)
        doc_text_words = tokens(f"{doc.title} {doc.summary} {doc.text}",
                                self._drop(provider))
        for incident in incidents:
            interval = _interval(incident, self.rules)
            if interval is None or interval[1] < window[0] or interval[0] > window[1]:
                continue
            posted = incident.lifecycle.first_post_at
            if posted is not None and posted > window[1]:
                continue  # first posted after the write-up's event ended: another event
            words = self._incident_words(incident, provider)
            title_words = tokens(incident.title, self._drop(provider))
            similarity = max(containment(doc_words, words),
                             containment(title_words, doc_text_words))
            component = self._component(doc, incident)
            out.append(_Candidate(incident, similarity, component, how))
        return out

    def _component(self, doc: Postmortem, incident: Incident) -> str | None:
        """A product the write-up names that is also one of the incident's components."""
        names = [c.name for c in incident.components]
        for product in doc.products:
            hit = names_in(product, names) or names_in(" ".join(names), [product])
            if hit:
                return hit[0]
        return None

    def _drop(self, provider: str) -> tuple[str, ...]:
        terms = self.terms.get(provider)
        return terms.aliases if terms else ()

    def _doc_words(self, doc: Postmortem, provider: str) -> set[str]:
        return tokens(" ".join((doc.title, *doc.products, *doc.keywords)), self._drop(provider))

    def _incident_words(self, incident: Incident, provider: str) -> set[str]:
        held = self._words.get(incident.key)
        if held is None:
            held = self._words[incident.key] = incident_tokens(incident, self._drop(provider))
        return held

    def _make(self, doc: Postmortem, provider: str, cand: _Candidate, confidence: str,
              rule: str, window: tuple[datetime, datetime] | None, day: date | None,
              why: str | None = None) -> PostmortemLink:
        evidence: dict = {"similarity": round(cand.similarity, 3)}
        if cand.component:
            evidence["component"] = cand.component
        if cand.how == "window" and window is not None:
            evidence["stated_window"] = [doc.start.isoformat() if doc.start else None,
                                         doc.end.isoformat() if doc.end else None]
        if cand.how == "day" and day is not None:
            evidence["named_day"] = day.isoformat()
        evidence["why"] = why or (
            f"{_PLACES[cand.how]} overlaps the "
            "incident, " + (f"product {cand.component!r} is one of its components"
                            if cand.component else "and they share words"))
        score = min(1.0, 0.5 + cand.similarity + (0.2 if cand.component else 0.0))
        return PostmortemLink(doc.id, cand.incident.key, provider, round(score, 3),
                              confidence, rule, evidence)
