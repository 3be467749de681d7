"""Published postmortems on the built site: a library page per write-up linking to its
incidents, the incident page linking back, index pages by provider, year and category, and
hostile third-party text escaped (the site's templates; blocks only from kb.postmortems)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.postmortems.site_sections import NAME, _pages, _prepare, _provider
from kb.postmortems.stage import relink
from kb.render.sections import IncidentLink, Links
from kb.signals.config import load_signal_config
from kb.store import Store
from kb.store.postmortems import links

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "tests" / "fixtures" / "aws" / "data_slice.json"
SOURCES = load_sources(PACKAGED_SOURCES)
TERMS = list(load_signal_config(PACKAGED_SOURCES, SOURCES).providers)
# Written here, not recorded: a hostile write-up about a real recorded incident of the slice
# (AWS Redshift console errors, 2021-12-09 13:15–14:58 UTC).
HOSTILE = (b"---\nuuid: hostile-1\nurl: https://evil.example/pm\n"
           b"title: \"<script>alert(1)</script> Redshift Management Console errors\"\n"
           b"company: Amazon\nproduct: Amazon Redshift\nstart_time: 2021-12-09T13:00:00Z\n"
           b"end_time: 2021-12-09T14:58:00Z\ncategories:\n- <img src=x onerror=alert(2)>\n"
           b"summary: A thundering herd of console retries after a bad deploy.\n---\n"
           b"<script>alert(3)</script> The outage was caused by a bad deploy.\n")
KEY = "aws/redshift-us-east-1_1639055699"


def _kb(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES), **extra)
    env.pop("KB_DATABASE_URL", None)
    env.pop("KB_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=ROOT)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "hostile.md").write_bytes(HOSTILE)
    done = _kb(home, "ingest", str(AWS), str(tmp_path / "hostile.md"))
    assert done.returncode == 0, done.stderr
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    relink(store, TERMS)
    store.close()
    return home


def test_library_pages_link_both_ways(home: Path) -> None:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=False)
    state = _prepare(store)
    store.close()
    pages = {p.slug: p for p in _pages(state)}
    (doc_id,) = state.docs
    links = [b for b in pages[doc_id].blocks if isinstance(b, Links)]
    assert any(isinstance(i, IncidentLink) and i.key == KEY for b in links for i in b.items)
    assert {"provider-aws", "year-2021"} <= set(pages)
    assert any(s.startswith("category-") for s in pages)
    (provider_links, _) = _provider(state, "aws")
    assert provider_links.items[0].collection == NAME


def test_draft_preview_says_a_linked_postmortem_states_the_cause(home: Path) -> None:
    from kb.drafts.site_sections import _writeup_causes, preview

    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=False)
    state = type("State", (), {"writeup_causes": _writeup_causes(store)})()
    incident = store.get(KEY)
    store.close()
    figures = preview(state, incident)[0]
    assert ("stated cause", "quoted from a linked postmortem") in figures.pairs
    assert ("stated cause", "not disclosed by the provider") in preview(None, incident)[0].pairs


@pytest.mark.slow  # ~60 s: a real site build (mkdocs)
def test_site_shows_writeups_escaped(home: Path, tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    build = tmp_path / "build"
    done = _kb(home, "site", "build", KB_SITE_DIR=str(build), KB_EMBED_MODEL="fake-hash")
    assert done.returncode == 0, done.stderr[-3000:]
    (incident_page,) = build.rglob("incidents/aws/redshift-us-east-1_1639055699/index.html")
    html = incident_page.read_text(encoding="utf-8")
    assert "Published postmortems" in html and "writeups/pm-" in html
    pages = list(build.rglob(f"{NAME}/pm-*/index.html"))
    assert pages
    for page in [incident_page, *pages, *build.rglob(f"{NAME}/category-*/index.html")]:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)" in pages[0].read_text(encoding="utf-8")


@pytest.mark.slow  # ~30 s: embeds the slice (fake-hash model) through the CLI
def test_search_finds_incident_by_its_writeup_words(home: Path) -> None:
    env = {"KB_EMBED_MODEL": "fake-hash"}
    assert _kb(home, "embed", **env).returncode == 0
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=False)
    linked = {k.incident_key for k in links(store)}  # both Redshift incidents of that day
    store.close()
    assert KEY in linked
    found = _kb(home, "search", "thundering herd", "--mode", "semantic", "-k", str(len(linked)),
                "--json", **env)
    assert found.returncode == 0, found.stderr
    # the words are only in the write-up's summary: the write-up joins the incidents'
    # embedded documents (and, since revision p02, their keyword index: test_postmortems_search)
    assert {r["key"] for r in json.loads(found.stdout)["results"]} == linked


def test_index_pages_are_unique_when_lists_spell_a_category_differently() -> None:
    from datetime import UTC, datetime

    from kb.postmortems.site_sections import _State
    from kb.store.postmortems import Postmortem

    def doc(pid: str, categories: tuple[str, ...]) -> Postmortem:
        return Postmortem(id=pid, url=f"https://x.example/{pid}", title=pid, provider=None,
                          providers=(), company="X", products=(),
                          start=datetime(2020, 1, 1, tzinfo=UTC), end=None, published_at=None,
                          categories=categories, keywords=(), summary="", text="",
                          sources=(("icco", pid),))

    docs = [doc("a", ("time",)), doc("b", ("Time", "Uncategorized")), doc("c", ())]
    state = _State({d.id: d for d in docs}, {}, {}, {})
    slugs = [p.slug for p in _pages(state)]
    assert len(slugs) == len(set(slugs))
    assert "category-time" in slugs and "category-uncategorized" in slugs
