"""Shared test fixtures: the recorded corpus (optional), fixture paths, a temporary KB home."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus, or a clean skip where it is absent (a fresh clone elsewhere)."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture
def kb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KB_HOME with the project's sources.toml, for CLI and pipeline tests."""
    home = tmp_path / "kbhome"
    home.mkdir()
    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_SOURCES", str(PACKAGED_SOURCES))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.delenv("KB_CONFIG", raising=False)
    return home
