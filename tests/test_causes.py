"""Cause tags: rules with evidence, their guards against status-page ambiguity, the stored
tags' idempotence, the optional embedding step, and quality on hand-labeled real incidents."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.analysis.causes import (
    RULES,
    Cause,
    CauseTag,
    prose_of,
    tag_incident,
    tag_sentences,
    tag_text,
)
from kb.analysis.similar import Examples, SimilarityTagger, load_similarity
from kb.analysis.stage import RULES_ID, causes_for, refresh_causes, tag_one, tagger_id
from kb.config import PACKAGED_SOURCES, load_settings, load_sources
from kb.errors import KbError
from kb.model import Incident, Kind, Phase, Severity, Update
from kb.pipeline import Line, ingest, run_later_stages
from kb.stage import RunReport, StageContext
from kb.store import Store
from kb.store.analysis import stale_cause_keys, stored_causes, write_causes
from scrapers.archive import Archive
from tests.conftest import ingested_store, reset_postgres

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "analysis"
CORPUS = ROOT.parent / "shared" / "corpus"


def tags_of(*sentences: str) -> dict[str, str]:
    """tag → stated_as for the given sentences."""
    return {t.tag.value: t.stated_as for t in tag_sentences(list(sentences))}


@pytest.mark.parametrize(("sentence", "tag"), [
    ("Users are unable to log in to the dashboard.", "auth"),
    ("Our DNS provider returned SERVFAIL for api.example.com.", "dns"),
    ("An expired certificate caused TLS handshake errors.", "tls"),
    ("The errors were caused by a recent deployment, which we rolled back.", "config-deploy"),
    ("Workers ran out of memory under unexpected load.", "capacity"),
    ("This is due to an issue with an upstream provider.", "dependency"),
    ("We saw packet loss on a transit link.", "network"),
    ("The primary MySQL database failed over.", "database-storage"),
    ("Analytics data will not be backfilled.", "data-loss"),
    ("We are mitigating a DDoS attack.", "security"),
    ("A power outage at one data center took hosts offline.", "hardware-power"),
    ("Some customers received 429 Too Many Requests responses.", "rate-limiting"),
    ("Some responses were truncated outputs of lower quality.", "model-quality"),
])
def test_each_tag_has_a_rule(sentence: str, tag: str) -> None:
    found = tag_sentences([sentence])
    assert tag in {t.tag.value for t in found}
    mine = next(t for t in found if t.tag.value == tag)
    assert mine.method == "rule" and mine.evidence == sentence and mine.detail
    assert not needle_misses([sentence])


def needle_misses(sentences: list[str]) -> list[str]:
    """Rule matches whose text holds none of the rule's prefilter needles: the prefilter
    would have skipped a sentence the rule matches."""
    return [f"{rule.id}: {m.group(0)!r}" for s in sentences for rule in RULES
            for m in rule.pattern.finditer(s)
            if rule.prefilter is not None and not rule.prefilter.search(m.group(0).lower())]


def test_negations_do_not_tag() -> None:
    assert tags_of("There was no data loss.") == {"unknown": ""}
    assert tags_of("This was not a security incident.") == {"unknown": ""}
    assert tags_of("We have ruled out DNS as a cause.") == {"unknown": ""}
    assert "data-loss" not in tags_of("No user data was lost or accessed by unauthorized parties.")
    # a negation in another clause does not reach the match
    assert "auth" in tags_of("The dashboard is not responding and failing to login.")


def test_status_page_ambiguities() -> None:
    assert tags_of("We have deployed a fix and are monitoring.") == {"unknown": ""}
    assert tags_of("We are investigating issues with Pages deploys.") == {"unknown": ""}
    assert "security" not in tags_of("A memory leak in the web tier exhausted hosts.")
    assert "hardware-power" not in tags_of("Committed follow-ups: more headroom.")
    assert "dependency" not in tags_of(
        "Working with our upstream providers to mitigate a large DDoS at the moment.")
    assert tags_of("Errors caused by a recent deploy.") == {"config-deploy": "cause"}
    assert tags_of("Customers cannot sign in.") == {"auth": "symptom"}


def test_evidence_prefers_the_sentence_stating_the_cause() -> None:
    (tag,) = tag_sentences(["Database queries are slow.",
                            "The root cause was a failed database replica."])
    assert tag.tag is Cause.STORAGE and tag.stated_as == "cause"
    assert tag.evidence == "The root cause was a failed database replica."


def test_unknown_and_prose() -> None:
    (tag,) = tag_text("We are investigating elevated errors. This incident has been resolved.")
    assert (tag.tag, tag.method, tag.evidence) == (Cause.UNKNOWN, "none", "")
    incident = Incident("p", "x", "DNS outage", Kind.INCIDENT, "resolved", Severity.MINOR,
                        updates=tuple(Update(datetime(2026, 1, 1, i, tzinfo=UTC),
                                             Phase.RESOLVED, "resolved", "",
                                             "This incident has been resolved.")
                                      for i in range(3)))
    assert prose_of(incident) == ["DNS outage", "This incident has been resolved."]
    assert [t.tag for t in tag_incident(incident)] == [Cause.DNS]


def test_hostile_text_is_plain_evidence_and_huge_text_finishes() -> None:
    (tag,) = tag_text("<script>alert(1)</script> Our DNS servers failed.")
    assert tag.tag is Cause.DNS and len(tag.evidence) <= 400
    huge = ("config " * 200_000) + "deploy " * 200_000 + ("a" * 100_000)
    assert tag_text(huge)  # no catastrophic backtracking: returns at all
    negated = "There was no DNS issue, " * 40_000  # 40k negated matches in one sentence
    assert [t.tag for t in tag_text(negated)] == [Cause.UNKNOWN]
    long_sentence = "The database " + "x" * 5000
    (tag,) = tag_text(long_sentence)
    assert len(tag.evidence) == 400 and tag.evidence.endswith("…")


# -- stored tags ------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return ingested_store(tmp_path, [FIX / "github", FIX / "claude_slice.atom",
                                     FIX / "openai_slice.json"])


def test_real_fixture_incidents(store: Store) -> None:
    """Expected tags read off each incident's updates (tests/fixtures/analysis)."""
    got = {k: {t.tag.value for t in v} for k, v in causes_for(store, store.incidents()).items()}
    # "a power failure at a datacenter related to our networking infrastructure"
    assert got["github/6503rcn8s34s"] == {"network", "hardware-power"}
    # "connection problems" ... "We've mitigated yet another DDoS attack"
    assert got["github/vc3m5hsd0s5g"] == {"network", "security"}
    # single sign-on unavailable; "Some messages ... may not have been saved"
    assert got["anthropic/4xvtc2gnq73l"] == {"auth", "data-loss"}
    # "We have identified the issue with Pages deploys": a product, not a deploy gone wrong
    assert got["github/4ypqyv8zbrck"] == {"unknown"}


def test_refresh_is_idempotent_and_keyed_by_content(store: Store) -> None:
    done, rows = refresh_causes(store)
    assert done == 9 and rows >= 9
    first = stored_causes(store)
    assert refresh_causes(store) == (0, 0)  # nothing changed: nothing written
    assert stored_causes(store) == first
    key = "github/6503rcn8s34s"
    write_causes(store, {key: ("stale-hash", RULES_ID, [])})  # as if tagged older content
    assert stale_cause_keys(store, RULES_ID) == [key]
    assert key not in stored_causes(store)  # tags of other content are never served
    assert refresh_causes(store)[0] == 1
    assert len(stale_cause_keys(store, RULES_ID + "+emb:other")) == 9  # new tagger: all


def test_analysis_stage_runs_in_the_pipeline(store: Store, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    context = StageContext(store, load_settings(), RunReport())
    run_later_stages(context, only=["analysis"])
    assert any(n.startswith("analysis: cause tags for 9") for n in context.report.notes)
    again = StageContext(store, load_settings(), RunReport())
    run_later_stages(again, only=["analysis"])
    assert again.report.notes == []


# -- the embedding step -----------------------------------------------------------------------


class TopicEncoder:
    """A deterministic stand-in for a sentence model: one axis per topic word."""

    model_id = "topic@test"
    dim = 4
    words = ("partner", "login", "fix", "outage")

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        np = pytest.importorskip("numpy")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for col, word in enumerate(self.words):
                out[row, col] = text.lower().count(word)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def test_embedding_step_tags_what_rules_miss_and_says_how() -> None:
    examples = Examples(("A partner had an outage.", "Users cannot login."),
                        (Cause.DEPENDENCY, Cause.AUTH), threshold=0.6, margin=0.05,
                        background=("A fix is being rolled out.",))
    tagger = SimilarityTagger(TopicEncoder(), examples)
    incident = Incident("p", "e", "Errors", Kind.INCIDENT, "resolved", Severity.MINOR,
                        updates=(Update(datetime(2026, 1, 1, tzinfo=UTC), Phase.RESOLVED,
                                        "resolved", "", "Our partner saw an outage today."),))
    (tag,) = tag_one(incident, tagger)
    assert (tag.tag, tag.method) == (Cause.DEPENDENCY, "embedding")
    assert tag.score is not None and tag.score >= 0.6 and "partner" in tag.detail
    boiler = replace(incident, updates=(replace(incident.updates[0],
                                                text="A fix for the outage is rolling out."),))
    (none,) = tag_one(boiler, tagger)  # closer to the background than to any example
    assert none.tag is Cause.UNKNOWN and "no example" in none.detail
    ruled = replace(incident, title="DNS errors")
    assert [t.method for t in tag_one(ruled, tagger)] == ["rule"]  # rules first
    assert tagger_id(tagger) != tagger_id(None)


def test_embedding_step_is_skipped_and_said_so_without_kb_embed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "kb.embed.encoder", None)
    tagger, note = load_similarity(tmp_path)
    assert tagger is None and note.startswith("embedding step skipped: kb.embed")


def test_the_run_note_says_how_tags_were_made(tmp_path: Path) -> None:
    tagger, note = load_similarity(tmp_path, {"KB_EMBED_MODEL": "fake-hash"})
    assert tagger is not None
    count = len(tagger.examples.sentences)
    assert note == (f"rules, then nearest of {count} labelled sentences by "
                    f"{tagger.encoder.model_id} (cosine ≥ {tagger.examples.threshold:g})")


# -- quality on labeled real incidents ---------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
def test_rules_on_hand_labeled_corpus_incidents(tmp_path: Path) -> None:
    """tests/fixtures/analysis/cause_labels.jsonl: 120 incidents labeled by reading them
    (ORIGIN.md). A regression guard; the per-tag figures are in docs/analysis.md."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    folders = ["statuspage_incident_json", "statuspage_json", "statuspage_atom",
               "statuspage_rss", "incidentio_atom"]
    ingest(Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES)),
           [CORPUS / f for f in folders])
    every = [s for i in store.incidents() for s in prose_of(i)]
    assert not needle_misses(every)  # the prefilter never hides a match on real prose
    labels = [json.loads(x) for x in (FIX / "cause_labels.jsonl").read_text().splitlines()]
    hits = predicted = gold = 0
    for item in labels:
        want = set(item["tags"])
        got = {t.tag.value for t in tag_incident(store.get(item["key"]))}
        hits += len(want & got)
        predicted += len(got)
        gold += len(want)
    assert hits / predicted >= 0.9 and hits / gold >= 0.9


def test_a_failing_model_is_one_clear_line_and_earlier_tags_stay(store: Store) -> None:
    class Broken:
        name = "emb:broken"

        def tag(self, prose: list[str]) -> list[CauseTag]:
            raise RuntimeError("onnxruntime: session crashed\nstack…")

    refresh_causes(store)  # rules-only tags stored first
    before = stored_causes(store)
    with pytest.raises(KbError) as caught:
        refresh_causes(store, Broken(), batch=1)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "embedding step failed on" in message and "\n" not in message
    assert "session crashed" in message
    after = stored_causes(store)
    assert set(after) == set(before)  # nothing stored was lost


@pytest.mark.skipif(not os.environ.get("KB_TEST_POSTGRES_URL"),
                    reason="KB_TEST_POSTGRES_URL not set")
def test_stored_tags_and_coverage_on_postgresql(tmp_path: Path) -> None:
    """The analysis queries on a real PostgreSQL (`.ci/run` starts one; scratch DB only)."""

    from kb.analysis.coverage import coverage_from_payloads
    from kb.store.analysis import payload_spans

    url = os.environ["KB_TEST_POSTGRES_URL"]
    reset_postgres(url)
    store, _ = Store.open(url, write=True)
    try:
        ingest(Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES)),
               [FIX / "github", FIX / "claude_slice.atom"])
        assert refresh_causes(store)[0] == 7 and refresh_causes(store) == (0, 0)
        assert {t.tag for t in stored_causes(store)["github/6503rcn8s34s"]} == {
            "network", "hardware-power"}
        assert stored_causes(store, rules=RULES_ID) == stored_causes(store)
        assert stored_causes(store, rules="rules-v2") == {}  # another version's roles
        spans = coverage_from_payloads(payload_spans(store))["anthropic"].spans
        assert spans[0][1] == datetime(2026, 10, 8, 2, 59, 46, tzinfo=UTC)
    finally:
        store.close()


def test_reads_skip_tags_of_other_rules_versions(store: Store) -> None:
    """A rules change (v2 → v3 gave tags roles) re-tags on the next refresh; until then no
    reader shows the old version's tags: `kb causes` and `kb compare` tag on the fly."""
    refresh_causes(store)
    key = "github/6503rcn8s34s"
    stored = stored_causes(store)[key]
    digest = store.content_hashes([key])[key]
    write_causes(store, {key: (digest, "rules-v2", [replace(stored[0], stated_as="cause")])})
    assert key not in stored_causes(store, rules=RULES_ID)
    assert key in stale_cause_keys(store, RULES_ID)
    incident = store.get(key)
    assert [t.tag.value for t in causes_for(store, [incident])[key]] == sorted(
        [r.tag for r in stored], key=[c.value for c in Cause].index)
