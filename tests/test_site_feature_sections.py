"""The features' sections reach the built site: `kb update` on recorded incidents and HN
stories links them, embeds and tags them, and the incident page shows the community signals,
similar incidents and metrics (each escaped by the site's templates)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
KEY = ("anthropic", "qt14v73myyy5")


@pytest.mark.slow
def test_update_renders_signals_causes_and_metrics(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("anthropic_incidents_slice.json", "algolia_search_page0.json",
                 "algolia_search_page1.json"):
        shutil.copy(FIX / name, inbox / name)
    env = dict(os.environ, KB_HOME=str(tmp_path / "home"), KB_SITE_DIR=str(tmp_path / "build"),
               KB_SOURCES=str(PACKAGED_SOURCES), KB_EMBED_MODEL="fake-hash")
    result = subprocess.run([sys.executable, "-m", "kb", "update", "--from", str(inbox)],
                            capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    pages = list((tmp_path / "build").rglob(f"incidents/{KEY[0]}/{KEY[1]}/index.html"))
    assert pages, sorted(str(p) for p in (tmp_path / "build").rglob("index.html"))[:20]
    html = pages[0].read_text(encoding="utf-8")
    assert "Community signals" in html and "detection lead" in html
    assert "link score" in html
    assert "Metrics" in html and "first post → resolved" in html
    assert "Similar incidents" in html and "cosine" in html  # 5 incidents embedded (fake-hash)
