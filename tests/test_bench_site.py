"""bench/bench_site.py fills a KB that has every section's data, through the real stages.

The site benchmark is only worth its numbers if the sections it claims to measure are in the
build: these tests fill a small synthetic KB and check, through the same per-section replay
the bench reports, that signals, similar incidents and causes appear on pages (and that
`--bare` leaves them out)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load("bench_site")


def test_filled_kb_has_every_sections_data(tmp_path: Path, bench: ModuleType,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.store import Store

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    made = bench.fill(url, 300, home=tmp_path)
    assert made["vectors"] == 300
    assert made["stories"] == 60  # 0.2 stories per incident, as in the corpus
    # The linker, not the generator, decides: most aimed stories link (3.6 % aimed).
    assert 5 <= made["linked_incidents"] <= 11
    assert 0 < made["with_causes"] < 300

    monkeypatch.setenv("KB_EMBED_MODEL", bench.EMBED_MODEL)  # as the bench's child runs
    store, _ = Store.open(url)
    costs = bench.section_costs(store)
    assert costs["incident:signals"]["shown"] == made["linked_incidents"]
    assert costs["incident:causes"]["shown"] == made["with_causes"]
    assert costs["incident:similar"]["shown"] > 250
    assert all(c["failures"] == 0 for c in costs.values()), costs
    assert all(c["prepare"] >= 0 and c["provide"] >= 0 for c in costs.values())


def test_bare_fill_leaves_the_optional_sections_out(tmp_path: Path, bench: ModuleType,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.store import Store

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    made = bench.fill(url, 50, bare=True)
    assert set(made) == {"incidents_s"}
    monkeypatch.setenv("KB_EMBED_MODEL", bench.EMBED_MODEL)
    store, _ = Store.open(url)
    assert sum(1 for _ in store.incidents()) == 50
    costs = bench.section_costs(store)
    for name in ("incident:signals", "incident:similar", "incident:causes"):
        assert costs[name]["shown"] == 0, name


def test_synthetic_data_is_the_same_on_every_run() -> None:
    data = load("site_data")
    incidents = list(data.synthetic_incidents(200))
    assert incidents == list(data.synthetic_incidents(200))
    assert {i.provider for i in incidents} == set(data.PROVIDERS)  # all twelve have pages
    assert list(data.synthetic_signals(incidents)) == list(data.synthetic_signals(incidents))
    assert list(data.synthetic_incidents(200, seed=7)) != incidents
