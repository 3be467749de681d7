"""The linker on the labeled real pairs of the corpus (bench/bench_link.py): the issue's
targets hold, overall and for stories that do not link to the status page."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "bench" / "data" / "signal_links.jsonl"


def bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_link", ROOT / "bench" / "bench_link.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_are_well_formed() -> None:
    rows = [json.loads(line) for line in LABELS.open()]
    assert len(rows) > 300
    keys = [(r["source"], r["native_id"]) for r in rows]
    assert len(keys) == len(set(keys))
    for row in rows:
        assert row["method"] in ("status-link", "hand", "no-candidates") and row["note"]
        assert all("/" in key for key in row["incidents"])
    assert sum(1 for r in rows if r["incidents"] and not r["status_link"]) >= 15


@pytest.mark.corpus
@pytest.mark.slow
def test_linker_meets_the_targets_on_labeled_pairs(corpus: Path) -> None:
    results, _seconds = bench().run(corpus)
    for name in ("all stories", "not linking to the status page",
                 "blind: status-linked, URL removed"):
        assert results[name]["precision"] >= 0.9, (name, results[name]["wrong"])
    for name in ("all stories", "not linking to the status page"):
        assert results[name]["recall"] >= 0.8, (name, results[name]["misses"])
    assert results["linking to the status page"]["recall"] == 1.0
