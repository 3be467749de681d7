"""`kb watch --once` with the site refresh on (the other watch tests run --no-refresh): a small
KB whose status page changes between two rounds; the built site (HTML under build/site) must
follow: the home page's "ongoing" section, the incident's own page and the Atom feed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from kb.config import load_settings, load_source_list
from kb.pipeline import Line, scrape
from kb.store import Store
from kb.watch.round import run_round
from kb.watch.schedule import WatchSettings
from scrapers.archive import Archive
from scrapers.fetch import Fetcher, FetchSettings
from tests.test_watch import KEY, SLICE, Receiver, StatusPage, watched, write_home
from tests.test_watch_concurrency import kb_env


@pytest.mark.slow  # two kb processes, each building the site (mkdocs): ~40-90 s
def test_watch_once_refreshes_the_built_site(kb_home: Path, httpserver: HTTPServer) -> None:
    status = StatusPage(httpserver)
    status.day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")  # "ongoing"
    hook = Receiver(httpserver, "/hook", Response("{}", status=200))
    write_home(kb_home, httpserver, f"[[alert]]\nkind = \"webhook\"\nname = \"hook\"\n"
                                    f"url = \"{httpserver.url_for('/hook')}\"\n"
                                    "min_interval = 0\n")
    site = kb_home / "build" / "site"
    title = next(i["name"] for i in SLICE["incidents"] if i["id"] == "6304r9jjhj34")
    escaped = title.replace("&", "&amp;")

    def watch() -> dict:
        run = subprocess.run([sys.executable, "-m", "kb", "watch", "--once", "--json"],
                             env=kb_env(kb_home), capture_output=True, text=True, timeout=400)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    def ongoing() -> str:
        home = (site / "index.html").read_text(encoding="utf-8")
        return home[home.index('id="ongoing"'):home.index('id="last-days"')]

    def page() -> str:
        return (site / "incidents" / "anthropic" / "6304r9jjhj34" / "index.html").read_text(
            encoding="utf-8")

    first = watch()
    assert [c["kind"] for c in first["changes"]] == ["new"]
    assert any(n.startswith("site: ") for n in first["notes"]), first["notes"]
    assert escaped in ongoing()
    before = page()
    feed_before = (site / "feeds" / "all.atom").read_bytes()

    status.stage = "resolved"
    second = watch()
    assert [c["kind"] for c in second["changes"]] == ["resolved"]
    assert [m["change"]["kind"] for m in hook.got] == ["new", "resolved"]
    assert escaped not in ongoing() and "Nothing ongoing" in ongoing()
    after = page()
    assert after != before
    incident = next(i for i in SLICE["incidents"] if i["id"] == "6304r9jjhj34")
    resolution = next(u["body"] for u in incident["incident_updates"]
                      if u["status"] == "resolved")
    assert resolution[:40].replace("&", "&amp;") not in before
    assert resolution[:40].replace("&", "&amp;") in after
    assert (site / "feeds" / "all.atom").read_bytes() != feed_before

    third = watch()  # unchanged page: nothing to say, nothing rebuilt
    assert third["changes"] == [] and not any(n.startswith("site: ") for n in third["notes"])


__all__ = ["watched"]  # the fixture of tests/test_watch.py, used here too


def test_the_round_names_its_changed_incidents_for_the_site(watched: Any) -> None:
    """The site stage may re-render only `RunReport.changed`: a round fills it with what it
    stored as new or updated, and with what it found changed that an earlier writer stored
    (here a `kb scrape`-like store of the resolution, then a round that polls nothing)."""
    first = watched.round()
    assert KEY in first.run.changed
    watched.status.stage = "resolved"
    settings = load_settings()
    sources = list(load_source_list(settings).sources)
    store, _ = Store.open(settings.database_url, write=True)
    try:
        with Fetcher(FetchSettings(**settings.fetch)) as fetcher:
            scrape(Line(store, Archive(settings.raw_dir), sources), fetcher, sources)
            line = Line(store, Archive(settings.raw_dir), sources)
            report = run_round(line, fetcher, settings, WatchSettings(), [], [],
                               followed=["anthropic"], refresh=False)
    finally:
        store.close()
    assert [(c.incident_key, c.kind) for c in report.changes] == [(KEY, "resolved")]
    assert report.run.changed == [KEY]
