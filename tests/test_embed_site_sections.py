"""The site's "Similar incidents" section (kb/embed/site_sections.py): the chunked top-k equals
a full sort, and a page lists its nearest incidents without itself, its duplicates or
neighbours below the floor."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from kb.embed import site_sections as similar
from kb.embed.encoder import FakeEncoder, resolve_model
from kb.embed.stage import embed_missing
from kb.render.sections import BuildContext, IncidentLink, Links, Registry
from tests.test_search_support import T0, incident, open_store, write


def unit_rows(count: int, dim: int = 24, seed: int = 3) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.parametrize("count", [3, 40, 97])
def test_chunked_top_equals_a_full_sort(count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similar, "CHUNK", 7)  # many blocks, a ragged last one
    matrix = unit_rows(count)
    keys = [f"p/{n:03d}" for n in range(count)]
    found = similar._top(matrix, keys)
    full = matrix @ matrix.T
    k = min(similar.CANDIDATES, count)
    assert set(found) == set(keys)
    for row, key in enumerate(keys):
        expected = sorted(((keys[c], float(full[row, c])) for c in range(count)),
                          key=lambda pair: (-pair[1], pair[0]))[:k]
        assert [name for name, _ in found[key]] == [name for name, _ in expected]
        assert [s for _, s in found[key]] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert found[key][0][0] == key  # itself first (cosine 1), left out by provide


def test_page_lists_neighbours_not_itself_duplicates_or_strangers(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KB_EMBED_MODEL", "fake-hash")
    store = open_store(tmp_path)
    day = timedelta(days=1)
    base = incident("github/a", "Webhook deliveries delayed",
                    "Webhook deliveries are delayed for some repositories.")
    later = incident("github/b", "Webhook deliveries delayed again",
                     "Webhook deliveries are delayed for many repositories.", at=T0 + 30 * day)
    twin = incident("github/c", "Webhook deliveries delayed",  # the same outage posted twice
                    "Webhook deliveries are delayed for some repositories.")
    stranger = incident("acme/z", "Billing invoices missing", "Invoices were not emailed.",
                        at=T0 + 60 * day)
    write(store, base, later, twin, stranger)
    spec = resolve_model({"KB_EMBED_MODEL": "fake-hash"})
    embed_missing(store, tmp_path, spec=spec, encoder=FakeEncoder(dim=384))

    state = similar._prepare(store, BuildContext(store))
    assert state is not None
    shown = similar._provide(state, base)
    assert isinstance(shown, Links)
    links = [item for item in shown.items if isinstance(item, IncidentLink)]
    assert [link.key for link in links] == ["github/b"]
    assert links[0].score is not None and links[0].score >= similar.FLOOR
    assert links[0].note and links[0].note.startswith(f"{later.lifecycle.first_post_at:%Y-%m-%d}")
    assert similar._provide(state, stranger) is None  # nothing above the floor


def test_no_vectors_no_section(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KB_EMBED_MODEL", "fake-hash")
    store = open_store(tmp_path)
    write(store, incident("github/a", "Webhooks delayed", "Deliveries are delayed."))
    assert similar._prepare(store, BuildContext(store)) is None
    assert similar._provide(None, incident("github/a", "x")) is None


def test_section_runs_through_the_registry_on_the_builds_incidents(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KB_EMBED_MODEL", "fake-hash")
    store = open_store(tmp_path)
    one = incident("github/a", "Webhook deliveries delayed", "Webhook deliveries are delayed.")
    two = incident("github/b", "Webhook deliveries delayed again",
                   "Webhook deliveries are delayed.", at=T0 + timedelta(days=9))
    write(store, one, two)
    embed_missing(store, tmp_path, spec=resolve_model({"KB_EMBED_MODEL": "fake-hash"}),
                  encoder=FakeEncoder(dim=384))
    registry = Registry(list(similar.SECTIONS))
    registry.prepare(store, BuildContext(store, incidents=[one, two]))
    assert registry.failures == []
    [(section, blocks)] = registry.blocks("incident", one)
    assert section.name == "similar"
    assert [item.key for item in blocks[0].items] == ["github/b"]  # type: ignore[union-attr]
    # The neighbours' details come from the build's list: one the build lacks is not shown.
    registry = Registry(list(similar.SECTIONS))
    registry.prepare(store, BuildContext(store, incidents=[one]))
    assert registry.blocks("incident", one) == []
