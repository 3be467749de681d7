"""`kb embed` with nothing to do builds no document; a changed extra text re-embeds exactly the
incidents it belongs to (kb.embed.stage, kb.embed.document.inputs_hash)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.embed import document, stage
from kb.embed.document import build_document, extra_texts, inputs_hash
from kb.embed.encoder import resolve_model
from kb.pipeline import Line, ingest
from kb.signals.config import load_signal_config
from kb.signals.stage import relink
from kb.store import Store, vectors
from scrapers.archive import Archive
from tests.test_search_support import incident, open_store, write

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
SPEC = resolve_model({"KB_EMBED_MODEL": "fake-hash"})


def _counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the key of every document the stage builds."""
    built: list[str] = []
    real = stage.build_document

    def counted(incident, extras=()):  # type: ignore[no-untyped-def]
        built.append(incident.key)
        return real(incident, extras)

    monkeypatch.setattr(stage, "build_document", counted)
    return built


def _hooked(monkeypatch: pytest.MonkeyPatch, titles: dict[str, list[str]]) -> None:
    """One extras hook serving `titles` (mutated by the test between runs)."""

    def hook(_store: Store, keys: Sequence[str]) -> Mapping[str, Sequence[str]]:
        wanted = set(keys)
        return {k: list(v) for k, v in titles.items() if k in wanted}

    monkeypatch.setattr(document, "DOCUMENT_EXTRAS", [("test", hook)])
    monkeypatch.setattr(stage, "DOCUMENT_EXTRAS", document.DOCUMENT_EXTRAS)


def _embedded_at(store: Store) -> dict[str, object]:
    with store.engine.connect() as conn:
        return dict(conn.execute(vectors.T_VECTORS.select().with_only_columns(
            vectors.T_VECTORS.c.incident_key, vectors.T_VECTORS.c.embedded_at)).all())


def test_inputs_hash_is_the_content_hash_without_extras() -> None:
    assert inputs_hash("abc") == "abc" == inputs_hash("abc", [])
    one = inputs_hash("abc", ["Ask HN: is it down?"])
    assert one.startswith("abc+") and one != inputs_hash("abc", ["Ask HN: is it down"])
    # Order is part of the document (sentences follow the extras' order).
    assert inputs_hash("abc", ["x", "y"]) != inputs_hash("abc", ["y", "x"])
    assert inputs_hash("abd", ["x"]) != inputs_hash("abc", ["x"])


def test_a_new_link_re_embeds_only_its_incident(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path)
    titles: dict[str, list[str]] = {"github/a": ["Ask HN: are GitHub webhooks down?"]}
    _hooked(monkeypatch, titles)
    write(store, incident("github/a", "Webhooks delayed", "Deliveries are late."),
          incident("github/b", "DDoS", "An attack slows github.com."),
          incident("github/c", "Pages", "Pages builds fail."))
    first = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert first.embedded == 3
    built = _counting_builds(monkeypatch)

    signature = vectors.vector_signature(store, SPEC.model_id)
    again = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert (again.checked, again.embedded, again.kept, built) == (0, 0, 0, [])
    # Nothing written either: search's cached copy of the matrix (keyed by this) stays valid.
    assert vectors.vector_signature(store, SPEC.model_id) == signature

    before = _embedded_at(store)
    titles["github/b"] = ["DDoS against GitHub, again"]  # a story newly linked to b
    linked = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert (linked.checked, linked.embedded, built) == (1, 1, ["github/b"])
    after = _embedded_at(store)
    assert [k for k in after if after[k] != before[k]] == ["github/b"]
    row = vectors.vector_of(store, "github/b")
    assert row is not None and row.doc_hash == build_document(
        store.get("github/b"), titles["github/b"]).doc_hash
    built.clear()
    assert stage.embed_missing(store, tmp_path, spec=SPEC).checked == 0
    assert built == []

    titles["github/a"] = ["Ask HN: are GitHub webhooks down? (edited)"]  # a story retitled
    assert stage.embed_missing(store, tmp_path, spec=SPEC).embedded == 1
    assert built == ["github/a"]
    built.clear()

    del titles["github/b"]  # link removed: back to the incident's own text
    unlinked = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert (unlinked.embedded, built) == (1, ["github/b"])
    row = vectors.vector_of(store, "github/b")
    assert row is not None and row.doc_hash == build_document(store.get("github/b")).doc_hash
    assert row.source_hash == store_content_hash(store, "github/b")
    built.clear()
    assert stage.embed_missing(store, tmp_path, spec=SPEC).checked == 0


def test_an_extra_that_adds_no_sentence_keeps_the_vector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A story titled like a sentence the incident already has: its inputs moved, its document
    # did not. It is rebuilt once, the vector kept, and the new inputs remembered.
    store = open_store(tmp_path)
    titles: dict[str, list[str]] = {}
    _hooked(monkeypatch, titles)
    write(store, incident("github/a", "Webhooks delayed", "Deliveries are late."))
    stage.embed_missing(store, tmp_path, spec=SPEC)
    titles["github/a"] = ["Deliveries are late."]
    same = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert (same.checked, same.embedded, same.kept) == (1, 0, 1)
    assert stage.embed_missing(store, tmp_path, spec=SPEC).checked == 0


def test_changed_incident_with_extras_is_re_embedded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path)
    titles = {"github/a": ["Ask HN: are GitHub webhooks down?"]}
    _hooked(monkeypatch, titles)
    write(store, incident("github/a", "Webhooks delayed", "Deliveries are late."))
    stage.embed_missing(store, tmp_path, spec=SPEC)
    write(store, incident("github/a", "Webhooks delayed", "Deliveries are late.",
                          "Deliveries have caught up."))
    report = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert report.embedded == 1
    row = vectors.vector_of(store, "github/a")
    assert row is not None and row.doc_hash == build_document(
        store.get("github/a"), titles["github/a"]).doc_hash


def store_content_hash(store: Store, key: str) -> str:
    return vectors.incidents_with_hashes(store, [key])[0][1]


def test_linking_real_stories_re_embeds_only_the_linked_incidents(tmp_path: Path) -> None:
    # Real payloads (tests/fixtures/signals: an Anthropic incident slice and two Algolia
    # pages of Hacker News stories) and the real hooks: embed, then link the stories.
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    sources = load_sources(PACKAGED_SOURCES)
    ingest(Line(store, Archive(tmp_path / "raw"), sources),
           [FIX / "anthropic_incidents_slice.json", FIX / "algolia_search_page0.json",
            FIX / "algolia_search_page1.json"])
    first = stage.embed_missing(store, tmp_path, spec=SPEC)
    assert first.embedded > 1
    assert stage.embed_missing(store, tmp_path, spec=SPEC).checked == 0
    keys = vectors.all_keys(store)
    assert extra_texts(store, keys) == {}
    relink(store, load_signal_config(PACKAGED_SOURCES, sources))
    linked = {k for k, texts in extra_texts(store, keys).items() if texts}
    assert linked and len(linked) < first.embedded
    report = stage.embed_missing(store, tmp_path, spec=SPEC)
    # Each linked incident is looked at once; those whose story title repeats their own title
    # (three here: "Elevated errors on Claude Opus 5") keep their vector.
    assert report.checked == report.embedded + report.kept == len(linked)
    assert report.embedded >= 1
    assert stage.embed_missing(store, tmp_path, spec=SPEC).checked == 0
    store.close()
