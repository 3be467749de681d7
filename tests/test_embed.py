"""kb.embed: documents, chunking, the deterministic encoder, pooling and the embed stage."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kb.config import load_settings
from kb.embed import document, stage
from kb.embed.document import build_document, chunk_sentences, split_sentences
from kb.embed.encoder import FakeEncoder, encode_documents, resolve_model
from kb.errors import ConfigError
from kb.model import ImpactWindow, Severity
from kb.pipeline import LATER_STAGES
from kb.stage import RunReport, StageContext
from kb.store import vectors
from tests.test_search_support import T0, incident, open_store, write

# -- documents ------------------------------------------------------------------------------


def test_document_keeps_what_failed_and_drops_boilerplate() -> None:
    doc = build_document(incident(
        "github/a1", "Incident with Webhooks",
        "We are investigating reports of degraded performance for Webhooks.",
        "Webhook deliveries are delayed by up to 10 minutes. We are continuing to investigate.",
        "Webhook deliveries are delayed by up to 10 minutes.",  # repeated: kept once
        "This incident has been resolved.",
        components=["Webhooks", "Webhooks"],
    ))
    assert doc.sentences == (
        "Incident with Webhooks",
        "Affected: Webhooks.",
        "Webhook deliveries are delayed by up to 10 minutes.",
    )
    assert doc.chunks == ("Incident with Webhooks Affected: Webhooks. Webhook deliveries are "
                          "delayed by up to 10 minutes.",)


def test_date_only_titles_and_pointer_components_stay_out() -> None:
    # Shapes of the GitHub corpus: 971 titles "Incident on <date>", and a "component" that is
    # a pointer to the status site on 73 incidents.
    doc = build_document(incident(
        "github/p1", "Incident on 2020-07-22 16:20 UTC",
        "We are investigating elevated errors with GitHub Pages builds.",
        components=["Visit www.githubstatus.com for more information", "GitHub Pages"],
    ))
    assert doc.sentences == ("Affected: GitHub Pages.",
                             "We are investigating elevated errors with GitHub Pages builds.")
    assert doc.title == "Incident on 2020-07-22 16:20 UTC"  # still shown in results
    # Nothing else to say: the date-only title is kept rather than an empty document.
    bare = build_document(incident("github/p2", "Incident on 2013-04-10 07:06:40 UTC",
                                   "This incident has been resolved."))
    assert bare.sentences == ("Incident on 2013-04-10 07:06:40 UTC",)
    kept = build_document(incident("github/p3", "Elevated errors on 2024-01-01 for the API"))
    assert kept.sentences == ("Elevated errors on 2024-01-01 for the API",)


def test_inline_update_logs_lose_their_stamps() -> None:
    text = ("- 2011-07-28 03:06:00 - One of our file servers failed over. - 2011-07-28 05:43:00 "
            "- Everything operating normally.")
    assert split_sentences(text) == ["One of our file servers failed over.",
                                     "Everything operating normally."]
    assert split_sentences("At 2024-04-10 18:33 UTC - maybe") == ["At 2024-04-10 18:33 UTC - maybe"]


def test_impact_evidence_and_extras_join_once() -> None:
    base = incident("github/a2", "Git errors", "Pushes failed for 20 minutes.")
    window = ImpactWindow(T0, None, "Pushes failed for 20 minutes.")
    doc = build_document(replace(base, impact_window=window), extras=["HN: GitHub is down"])
    assert doc.sentences == ("Git errors", "Pushes failed for 20 minutes.", "HN: GitHub is down")


def test_doc_hash_follows_the_text_only() -> None:
    one = incident("github/a3", "Pages builds paused", "Builds are paused.")
    same_text = replace(one, severity=Severity.MAJOR, status="monitoring")
    other_text = incident("github/a3", "Pages builds paused", "Builds are paused for an hour.")
    assert build_document(one).doc_hash == build_document(same_text).doc_hash
    assert build_document(one).doc_hash != build_document(other_text).doc_hash


def test_incident_with_no_text_is_an_empty_document() -> None:
    doc = build_document(incident("github/e", "  ", "This incident has been resolved."))
    assert doc.empty and doc.sentences == () and doc.chunks == ()


def test_chunks_pack_whole_sentences_and_cut_walls_of_text() -> None:
    sentences = ["one two three.", "four five.", "six seven eight nine."]
    assert chunk_sentences(sentences, 5) == ["one two three. four five.", "six seven eight nine."]
    wall = " ".join(f"w{i}" for i in range(12))
    chunks = chunk_sentences(["Title.", wall], 5)
    assert chunks == ["Title.", "w0 w1 w2 w3 w4", "w5 w6 w7 w8 w9", "w10 w11"]
    assert " ".join(chunks).split() == ["Title.", *wall.split()]  # nothing lost


def test_long_documents_are_chunked_and_the_cut_is_flagged() -> None:
    words = " ".join(f"word{i}" for i in range(document.CHUNK_WORDS * 3))
    doc = build_document(incident("github/long", "Long one", words))
    assert len(doc.chunks) == 4 and not doc.truncated  # title + 3 full chunks
    huge = " ".join(f"word{i}" for i in range(document.CHUNK_WORDS * (document.MAX_CHUNKS + 2)))
    big = build_document(incident("github/huge", "Huge", huge))
    assert big.truncated and len(big.chunks) == document.MAX_CHUNKS


# -- the fake encoder and pooling -----------------------------------------------------------


def test_fake_encoder_is_deterministic_and_word_based() -> None:
    encoder = FakeEncoder()
    a, b, c, empty = encoder.encode(["Webhook delay", "webhook DELAY!", "DDoS attack", "the of"])
    assert np.allclose(a, b) and np.isclose(np.linalg.norm(a), 1.0)
    assert float(a @ c) < 0.5
    assert not empty.any()  # only stop words: a zero row, never NaN
    assert np.array_equal(FakeEncoder().encode(["Webhook delay"])[0], a)


def test_long_documents_pool_their_chunks() -> None:
    encoder = FakeEncoder()
    doc = document.Document("x/1", "t", ("a",), ("webhook delay", "ddos attack"), "h")
    pooled = encode_documents(encoder, [doc])[0]
    chunks = encoder.encode(list(doc.chunks))
    expected = chunks.sum(axis=0) / np.linalg.norm(chunks.sum(axis=0))
    assert np.allclose(pooled, expected)


# -- model settings -------------------------------------------------------------------------


def test_model_settings() -> None:
    assert resolve_model({"KB_EMBED_MODEL": "fake-hash"}).model_id == "fake-hash@fake"
    default = resolve_model({})
    assert default.model_id == "all-MiniLM-L6-v2@onnx-int8"
    assert default.path is not None and (default.path / "tokenizer.json").is_file()
    assert resolve_model({"KB_EMBED_BACKEND": "torch"}).model_id == "all-MiniLM-L6-v2@torch"
    with pytest.raises(ConfigError, match="KB_EMBED_BACKEND"):
        resolve_model({"KB_EMBED_BACKEND": "gpu"})
    with pytest.raises(ConfigError, match="never downloaded"):
        resolve_model({"KB_EMBED_MODEL": "nobody/no-such-model-xyz"})


def test_heavy_modules_stay_unimported() -> None:
    code = ("import sys, kb.commands.search, kb.embed.search, kb.embed.stage, kb.store.vectors;"
            "print(sorted({'numpy', 'torch', 'onnxruntime', 'sentence_transformers'}"
            " & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- the embed stage ------------------------------------------------------------------------


class Tracker:
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, done: int) -> None:
        self.done += done


def test_embed_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Change tracking of incidents alone; with DOCUMENT_EXTRAS hooks every document is rebuilt
    # and compared on each run (test_extra_texts_hook_joins_and_re_embeds covers that path).
    monkeypatch.setattr(stage, "DOCUMENT_EXTRAS", [])
    store = open_store(tmp_path)
    spec = resolve_model({"KB_EMBED_MODEL": "fake-hash"})
    a = incident("github/a", "Webhooks delayed", "Webhook deliveries are delayed.")
    b = incident("github/b", "DDoS", "A DDoS attack slows github.com.")
    empty = incident("github/c", "", "This incident has been resolved.")
    write(store, a, b, empty)
    tracker = Tracker()
    first = stage.embed_missing(store, tmp_path, spec=spec, tracker=tracker)
    assert (first.embedded, first.empty, tracker.total, tracker.done) == (2, ["github/c"], 3, 3)
    assert vectors.models_in_use(store) == {"fake-hash@fake": 2}

    def no_model(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the model must not load when nothing is to be encoded")

    monkeypatch.setattr(stage, "load_encoder", no_model)
    again = stage.embed_missing(store, tmp_path, spec=spec)
    assert (again.embedded, again.kept) == (0, 0)

    write(store, replace(b, severity=Severity.MAJOR))  # changed, same document
    kept = stage.embed_missing(store, tmp_path, spec=spec)
    assert (kept.embedded, kept.kept) == (0, 1)
    assert stage.embed_missing(store, tmp_path, spec=spec).kept == 0  # remembered

    monkeypatch.undo()
    write(store, incident("github/a", "Webhooks delayed", "Webhook deliveries are delayed.",
                          "Deliveries have caught up."))
    changed = stage.embed_missing(store, tmp_path, spec=spec)
    assert changed.embedded == 1
    row = vectors.vector_of(store, "github/a")
    assert row is not None and row.doc_hash == build_document(
        store.get("github/a")).doc_hash


class OtherModel(FakeEncoder):
    """The same hashing, under another model id: a different vector space."""

    def __init__(self) -> None:
        super().__init__(dim=32)
        self.model_id = "other-model@fake"


def test_a_model_change_re_embeds_everything(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    write(store, incident("github/a", "Webhooks delayed", "Deliveries are late."),
          incident("github/b", "DDoS", "An attack."))
    spec = resolve_model({"KB_EMBED_MODEL": "fake-hash"})
    stage.embed_missing(store, tmp_path, spec=spec)
    report = stage.embed_missing(store, tmp_path, spec=spec, encoder=OtherModel())
    assert report.embedded == 2 and report.replaced == {"fake-hash@fake": 2}
    assert "replaced vectors of another model (2 of fake-hash@fake)" in report.summary()
    assert vectors.models_in_use(store) == {"other-model@fake": 2}
    row = vectors.vector_of(store, "github/a")
    assert row is not None and row.dim == 32 and len(row.vector) == 32 * 4


def test_vectors_of_deleted_incidents_are_dropped(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    spec = resolve_model({"KB_EMBED_MODEL": "fake-hash"})
    write(store, incident("github/a", "Webhooks", "Late."), incident("github/b", "DDoS", "Hit."))
    stage.embed_missing(store, tmp_path, spec=spec)
    store.clear_derived()
    write(store, incident("github/a", "Webhooks", "Late."))
    report = stage.embed_missing(store, tmp_path, spec=spec)
    assert (report.embedded, report.pruned) == (0, 1)
    assert vectors.models_in_use(store) == {"fake-hash@fake": 1}


def test_extra_texts_hook_joins_and_re_embeds(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path)
    spec = resolve_model({"KB_EMBED_MODEL": "fake-hash"})
    write(store, incident("github/a", "Webhooks", "Late."))
    stage.embed_missing(store, tmp_path, spec=spec)
    titles = {"github/a": ["Ask HN: are GitHub webhooks down?"]}
    monkeypatch.setattr(document, "DOCUMENT_EXTRAS",
                        [("signals", lambda _store, keys: {k: titles.get(k, []) for k in keys})])
    monkeypatch.setattr(stage, "DOCUMENT_EXTRAS", document.DOCUMENT_EXTRAS)
    report = stage.embed_missing(store, tmp_path, spec=spec)
    assert report.embedded == 1
    expected = build_document(store.get("github/a"), titles["github/a"]).doc_hash
    row = vectors.vector_of(store, "github/a")
    assert row is not None and row.doc_hash == expected
    assert stage.embed_missing(store, tmp_path, spec=spec).embedded == 0


def test_the_stage_is_registered_and_quiet_when_nothing_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "embed" in [name for name, _ in LATER_STAGES]
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    monkeypatch.setenv("KB_EMBED_MODEL", "fake-hash")
    store = open_store(tmp_path)
    write(store, incident("github/a", "Webhooks", "Late."))
    context = StageContext(store, load_settings(), RunReport())
    assert stage.embed_stage(context) == "embedded 1 incident(s) with fake-hash@fake"
    assert stage.embed_stage(context) is None
