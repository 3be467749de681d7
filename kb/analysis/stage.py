"""Cause tags made and stored: the "analysis" stage of `kb update`, and `kb causes --refresh`.

Tags are keyed by the incident's content hash and the tagger's id (rules version, and the
embedding model and examples when that step runs), so a run tags only incidents that are new,
changed, or tagged by another tagger; an unchanged KB is a no-op that writes nothing.

The stated causes of an incident's linked postmortems (their categories, kb.postmortems) are
stored with its tags (method "postmortem", role "cause", the write-up's title as evidence and
its URL in the detail), so the site's cause pages and `kb compare` count them. The tagger id
of such an incident ends in "+pm:" and a hash of those write-ups: a link made or removed (the
postmortems stage runs before this one) makes its tags stale, and the rerun writes them anew,
without the write-up's causes when it is no longer linked.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kb.analysis.causes import (
    RULES_VERSION,
    Cause,
    CauseTag,
    counts,
    own_names,
    postmortem_cause_categories,
    prose_of,
    tag_incident,
    tag_sentences,
    unknown,
    with_postmortem_causes,
)
from kb.analysis.similar import SimilarityTagger, expected_name, load_similarity
from kb.errors import KbError
from kb.model import Incident
from kb.stage import StageContext
from kb.store.analysis import (
    CauseRecord,
    incident_hashes,
    stale_cause_keys,
    stored_causes,
    write_causes,
)
from kb.store.repo import Store
from kb.store.stream import iter_incidents

RULES_ID = f"rules-v{RULES_VERSION}"


def tagger_id(similarity: SimilarityTagger | None) -> str:
    return RULES_ID if similarity is None else f"{RULES_ID}+{similarity.name}"


def tag_one(incident: Incident, similarity: SimilarityTagger | None = None) -> list[CauseTag]:
    """Rules first; the embedding step only where the rules found nothing."""
    prose = prose_of(incident)
    tags = tag_sentences(prose, own_names(incident.provider))
    if similarity is None or tags[0].tag is not Cause.UNKNOWN:
        return tags
    found = similarity.tag(prose)
    return found or [unknown("no rule matched; no example sentence close enough")]


def to_record(tag: CauseTag) -> CauseRecord:
    return CauseRecord(tag.tag.value, tag.method, tag.evidence, tag.detail, tag.stated_as,
                       tag.score)


def from_record(record: CauseRecord) -> CauseTag:
    return CauseTag(Cause(record.tag), record.method, record.evidence, record.detail,
                    record.stated_as, record.score)


def refresh_causes(
    store: Store, similarity: SimilarityTagger | None = None, *,
    progress: Callable[[int, int], None] | None = None, batch: int = 500,
) -> tuple[int, int]:
    """Tag every incident whose stored tags are stale. Returns (incidents tagged, rows)."""
    tagger = tagger_id(similarity)
    writeups = _linked_writeups(store)
    expected = writeup_taggers(tagger, writeups)
    stale = set(stale_cause_keys(store, tagger, expected))
    if not stale:
        return 0, 0
    hashes = incident_hashes(store)
    done = rows = 0
    pending: dict[str, tuple[str, str, list[CauseRecord]]] = {}
    # in batches (kb.store.stream): no read cursor held open across the writes below, and
    # on PostgreSQL no client-side copy of every timeline
    for incident in iter_incidents(store):
        if incident.key not in stale:
            continue
        try:
            tags = tag_one(incident, similarity)
            if incident.key in expected:
                tags = with_postmortem_causes(tags, writeups[incident.key])
            records = [to_record(t) for t in tags]
        except Exception as exc:  # the model runtime failing mid-run (rules never raise)
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise KbError(f"cause tags: embedding step failed on {incident.key}: {first}; "
                          "tags stored so far are kept (retry with --no-embedding)") from exc
        pending[incident.key] = (hashes[incident.key], expected.get(incident.key, tagger),
                                 records)
        if len(pending) >= batch:
            rows += write_causes(store, pending)
            done += len(pending)
            pending = {}
            if progress:
                progress(done, len(stale))
    if pending:
        rows += write_causes(store, pending)
        done += len(pending)
    if progress:
        progress(done, len(stale))
    return done, rows


def causes_for(store: Store, incidents: Iterable[Incident]) -> dict[str, list[CauseTag]]:
    """Tags per incident: the stored ones where current (made for this text by these rules),
    else computed now by the rules (a read never writes; `kb update` or `kb causes --refresh`
    stores them)."""
    chosen = list(incidents)
    stored = stored_causes(store, [i.key for i in chosen], rules=RULES_ID)
    found = {i.key: [from_record(r) for r in stored[i.key]] if i.key in stored
             else tag_incident(i) for i in chosen}
    for key, writeups in _linked_writeups(store, list(found)).items():
        found[key] = with_postmortem_causes(found[key], writeups)
    return found


@dataclass
class CauseSummary:
    """What `kb causes` lists: per provider, how many incidents carry each tag as a stated
    cause and only as a symptom (kb.analysis.causes.counts), over `incidents` incidents
    (maintenances left out), of which `computed_now` had no stored tags."""

    incidents: int = 0
    computed_now: int = 0
    by_provider: dict[str, dict[str, int]] = field(default_factory=dict)
    symptoms: dict[str, dict[str, int]] = field(default_factory=dict)


def cause_summary(store: Store, provider: str | None = None) -> CauseSummary:
    """The tag counts of every incident (of `provider`), read and tagged a batch at a time
    (kb.store.stream): the memory is one batch and the tallies, not the KB."""
    from kb.store.stream import incident_batches

    summary = CauseSummary()
    tallies: dict[str, tuple[Counter[str], Counter[str]]] = {}
    for batch in incident_batches(store, providers=[provider] if provider else None):
        chosen = [i for i in batch if i.kind.value == "incident"]
        if not chosen:
            continue
        stored = stored_causes(store, [i.key for i in chosen], rules=RULES_ID)
        tags = causes_for(store, chosen)
        summary.incidents += len(chosen)
        summary.computed_now += sum(1 for i in chosen if i.key not in stored)
        for slug in {i.provider for i in chosen}:
            mine = [tags[i.key] for i in chosen if i.provider == slug]
            cause, symptom = tallies.setdefault(slug, (Counter(), Counter()))
            cause.update(counts(mine, role="cause"))
            symptom.update(counts(mine, role="symptom"))

    def ordered(tally: Counter[str]) -> dict[str, int]:  # as counts(): most common first
        return dict(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])))

    for slug in sorted(tallies):
        summary.by_provider[slug] = ordered(tallies[slug][0])
        summary.symptoms[slug] = ordered(tallies[slug][1])
    return summary


def writeup_taggers(tagger: str, writeups: Mapping[str, list[tuple[str, str, tuple[str, ...]]]]
                    ) -> dict[str, str]:
    """incident key → its tagger id, for the incidents whose linked write-ups state a cause:
    `tagger` + "+pm:" + a hash of those write-ups (title, URL, cause categories)."""
    found = {}
    for key, docs in writeups.items():
        stated = sorted((title, url, tuple(postmortem_cause_categories(categories)))
                        for title, url, categories in docs
                        if postmortem_cause_categories(categories))
        if stated:
            digest = hashlib.sha256(repr(stated).encode()).hexdigest()[:12]
            found[key] = f"{tagger}+pm:{digest}"
    return found


def _linked_writeups(store: Store, keys: list[str] | None = None
                     ) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
    """incident key → (title, url, categories) of its linked postmortems (kb.postmortems),
    for `keys` (None: every incident); none where the KB holds no postmortem tables."""
    from kb.store.postmortems import links, postmortems

    wanted = None if keys is None else set(keys)
    try:
        chosen = [k for k in links(store) if wanted is None or k.incident_key in wanted]
        docs = {d.id: d for d in postmortems(store, ids={k.postmortem_id for k in chosen})}
    except Exception:  # a database without revision p01: no write-ups
        return {}
    found: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for link in chosen:
        doc = docs.get(link.postmortem_id)
        if doc is not None:
            found.setdefault(link.incident_key, []).append((doc.title, doc.url, doc.categories))
    return found


def refresh(store: Store, home: Path, *, use_embedding: bool = True, only_ready: bool = False,
            progress: Callable[[int, int], None] | None = None) -> tuple[int, str]:
    """Tag what is stale; load the embedding model only when there is something to tag.
    Returns (incidents tagged, a note on the embedding step)."""
    name, why = expected_name(home, only_ready=only_ready) if use_embedding else (
        None, "turned off")
    expected = RULES_ID if name is None else f"{RULES_ID}+{name}"
    if not stale_cause_keys(store, expected, writeup_taggers(expected, _linked_writeups(store))):
        return 0, "nothing to tag"
    similarity, note = (load_similarity(home) if name is not None
                        else (None, f"embedding step skipped: {why}"))
    done, _rows = refresh_causes(store, similarity, progress=progress)
    return done, note


def analysis_stage(context: StageContext) -> str | None:
    """Pipeline stage (kb.pipeline.LATER_STAGES): tag new and changed incidents."""
    done, note = refresh(context.store, Path(context.settings.home), only_ready=True,
                         progress=context.progress)
    return f"cause tags for {done} incident(s); {note}" if done else None
