"""bench/synthetic.py: payloads that `kb ingest` reads through its real path, deterministic by
seed, sized like the corpus profile."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synthetic() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "bench" / "synthetic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthetic"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*.json"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path,
                                                     synthetic: ModuleType) -> None:
    one = synthetic.generate(tmp_path / "a", 230, seed=7, providers=20)
    synthetic.generate(tmp_path / "b", 230, seed=7, providers=20)
    synthetic.generate(tmp_path / "c", 230, seed=8, providers=20)
    assert one.files == 5 and one.incidents == 230
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")
    # file N depends on (seed, N) only: a longer run starts with the same files
    synthetic.generate(tmp_path / "d", 400, seed=7, providers=20)
    longer = _files(tmp_path / "d")
    shorter = _files(tmp_path / "a")
    full = [name for name in shorter if not name.endswith("incidents-000004.json")]
    assert all(longer[name] == shorter[name] for name in full)


def test_sizes_follow_the_profile(tmp_path: Path, synthetic: ModuleType) -> None:
    profile = json.loads(synthetic.PROFILE.read_text())
    synthetic.generate(tmp_path, 3000, seed=3, providers=50)
    incidents = [i for p in sorted(tmp_path.rglob("*.json"))
                 for i in json.loads(p.read_bytes())["incidents"]]
    assert len(incidents) == 3000
    assert len({i["id"] for i in incidents}) == 3000
    updates = [u for i in incidents for u in i["incident_updates"]]
    expected = (sum(len(s.split(",")) * n for s, n in profile["sequences"])
                / sum(n for _, n in profile["sequences"]))
    assert abs(len(updates) / len(incidents) - expected) < 0.15 * expected
    single = sum(1 for i in incidents if len(i["incident_updates"]) == 1) / len(incidents)
    corpus_single = dict(profile["sequences"])["resolved"] / profile["incidents"]
    assert abs(single - corpus_single) < 0.05
    # plain bodies' median length within 20 % of the corpus' median
    plain = [len(u["body"]) for u in updates if not u["body"].startswith("<p>")]
    corpus_median = profile["body_chars"][len(profile["body_chars"]) // 2]
    assert abs(statistics.median(plain) - corpus_median) < 0.2 * corpus_median + 2
    # a few providers dominate (Zipf), and each file is one provider's page
    per_provider = sorted((len(list(d.iterdir())) for d in tmp_path.iterdir()), reverse=True)
    assert per_provider[0] >= 5 * per_provider[len(per_provider) // 2]


def test_profile_is_what_the_corpus_says(corpus: Path, synthetic: ModuleType) -> None:
    rebuilt = synthetic.build_profile(corpus)
    stored = json.loads(synthetic.PROFILE.read_text())
    assert [list(s) for s in rebuilt["sequences"]] == stored["sequences"]
    assert rebuilt["body_chars"] == stored["body_chars"]


def test_payloads_go_through_the_real_ingest_and_rerun_changes_nothing(
        tmp_path: Path, kb_home: Path, synthetic: ModuleType) -> None:
    synthetic.generate(tmp_path / "payloads", 120, seed=5, providers=4)
    command = [sys.executable, "-m", "kb", "ingest", str(tmp_path / "payloads")]
    first = subprocess.run(command, capture_output=True, text=True, env=os.environ,
                           check=False)
    assert first.returncode == 0, first.stderr
    export = [sys.executable, "-m", "kb", "export", "--format", "jsonl"]
    rows = subprocess.run(export, capture_output=True, text=True, check=True).stdout
    stored = [json.loads(line) for line in rows.splitlines()]
    assert len(stored) == 120
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert subprocess.run(export, capture_output=True, text=True, check=True).stdout == rows
