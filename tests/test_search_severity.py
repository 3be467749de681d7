"""`kb search --severity` as users run it (issue 14: unknown is its own value): a feed-only
incident, whose source states no impact, is found with `--severity unknown` and not with
`--severity none`, which keeps the incidents a vendor said had no impact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.commands.search import severity_value
from kb.config import PACKAGED_SOURCES
from kb.errors import ConfigError
from kb.store import Store
from kb.store.vectors import SearchFilters, filter_keys
from tests.hostile.records import Rec, statuspage_feed


def _kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES), COLUMNS="1000")
    env.pop("KB_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def _stated(ident: str, impact: str, title: str) -> dict:
    at = "2025-03-03T12:00:00Z"
    return {"id": ident, "name": title, "status": "resolved", "impact": impact,
            "created_at": at, "updated_at": at, "resolved_at": at,
            "incident_updates": [{"id": f"u-{ident}", "status": "resolved",
                                  "body": f"{title} is resolved.", "created_at": at,
                                  "display_at": at}]}


def test_severity_values_are_checked() -> None:
    assert severity_value(None) is None
    assert severity_value(" Unknown ") == "unknown"
    assert severity_value("none") == "none"
    with pytest.raises(ConfigError) as caught:
        severity_value("severe")
    assert str(caught.value) == ("unknown --severity 'severe'; valid: none, minor, major, "
                                 "critical, unknown")


def test_unknown_severity_is_searchable_and_not_none(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    stated = tmp_path / "incidents.json"
    stated.write_text(json.dumps({
        "page": {"id": "p1", "name": "Acme", "url": "https://status.acme.test"},
        "incidents": [_stated("calm", "none", "Login latency notice"),
                      _stated("loud", "major", "Login outage")]}), encoding="utf-8")
    feed = tmp_path / "history.atom"
    feed.write_bytes(statuspage_feed([Rec("feedonly", "Login failures", "2025-03-04T12:00:00Z",
                                          "Users cannot log in.")]))
    proc = _kb(home, "ingest", str(stated), str(feed), "--provider", "acme")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = _kb(home, "search", "login", "--mode", "keyword", "--severity", "unknown", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)["results"]
    unknown = {r["key"] for r in results}
    assert len(unknown) == 1 and not unknown & {"acme/calm", "acme/loud"}
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}")
    try:
        assert filter_keys(store, SearchFilters(severity="unknown")) == unknown
        assert filter_keys(store, SearchFilters(severity="none")) == {"acme/calm"}
        assert filter_keys(store, SearchFilters(severity="major")) == {"acme/loud"}
        assert len(filter_keys(store, SearchFilters())) == 3
    finally:
        store.close()
    bad = _kb(home, "search", "login", "--severity", "severe")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "unknown --severity 'severe'" in bad.stderr
