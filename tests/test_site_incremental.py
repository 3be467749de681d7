"""Incremental site builds (kb.render.build.run_mkdocs_pages): after a change of a few
incidents only their pages go through mkdocs, and the site that results is the one a full
build makes of the same database: the same HTML for every page, the same search entries,
changed pages' old entries gone, removed pages deleted, unchanged files untouched. A build
cut short, or a change of mkdocs.yml or the theme, makes the next build a full one.

The fixture database is tests/fixtures/site (see its ORIGIN.md) through the real ingest."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.errors import KbError
from kb.pipeline import Line, ingest
from kb.render import build as site_build
from kb.render.build import Layout, build_site, find_layout
from kb.store import Store
from scrapers.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "site"
SOURCES = load_sources(PACKAGED_SOURCES)
AS_OF = date(2026, 9, 15)
CHANGED = "incidents/github/01sqkcp7z62r/index.html"


def kb_of(home: Path) -> Store:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    report = ingest(Line(store, Archive(home / "raw"), SOURCES), [FIX])
    assert not report.failures, report.failures
    return store


def edit_incident(store: Store, home: Path, name: str) -> None:
    """The vendor renames one incident (a newer payload of it)."""
    payload = json.loads((FIX / "github_01sqkcp7z62r.json").read_text())
    payload["page"]["updated_at"] = "2030-01-01T00:00:00Z"
    payload["incident"]["name"] = name
    changed = home / f"changed-{len(name)}.json"
    changed.write_text(json.dumps(payload))
    report = ingest(Line(store, Archive(home / "raw"), SOURCES), [changed])
    assert report.total("updated") == 1


def html_files(site: Path) -> dict[str, bytes]:
    # sitemap.xml(.gz) lists every page with no date: unchanged by an edit; left out of the
    # comparison only because the full build regenerates it and the incremental one does not.
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file() and not p.name.startswith("sitemap") and p.parent.name != "search"}


def search_entries(site: Path) -> set[tuple[str, str, str]]:
    data = json.loads((site / "search" / "search_index.json").read_bytes())
    return {(e["location"], e["title"], e["text"]) for e in data["docs"]}


@pytest.fixture
def two_builds(tmp_path: Path) -> tuple[Store, Path, Layout]:
    """A KB with a full build of it in tmp/build."""
    home = tmp_path / "home"
    home.mkdir()
    store = kb_of(home)
    layout = find_layout(ROOT / "mkdocs.yml", tmp_path / "build")
    first = build_site(store, layout, as_of=AS_OF)
    assert first.built and not first.incremental
    return store, home, layout


def test_one_changed_incident_builds_its_pages_only_and_matches_a_full_build(
        two_builds: tuple[Store, Path, Layout], tmp_path: Path) -> None:
    store, home, layout = two_builds
    before = {p: p.stat().st_mtime_ns for p in layout.site.rglob("*.html")}
    old_entries = search_entries(layout.site)
    edit_incident(store, home, "Renamed by the vendor")

    again = build_site(store, layout, as_of=AS_OF)
    assert again.built and again.incremental
    assert "incidents/github/01sqkcp7z62r.md" in again.render.written
    assert 0 < again.html_written < 20
    page = (layout.site / CHANGED).read_text()
    assert "Renamed by the vendor" in page
    rewritten = {p for p, mtime in before.items() if p.stat().st_mtime_ns != mtime}
    assert layout.site / CHANGED in rewritten
    assert len(rewritten) <= len(again.render.written)  # the rest untouched

    full_layout = find_layout(ROOT / "mkdocs.yml", tmp_path / "full")
    full = build_site(store, full_layout, as_of=AS_OF, force=True)
    assert full.built and not full.incremental
    assert html_files(layout.site) == html_files(full_layout.site)
    entries = search_entries(layout.site)
    assert entries == search_entries(full_layout.site)
    assert any(loc.startswith("incidents/github/01sqkcp7z62r/") and "Renamed" in title
               for loc, title, _ in entries)
    assert entries != old_entries  # the old title's entries are gone


def test_a_removed_page_leaves_the_site_and_its_index(
        two_builds: tuple[Store, Path, Layout]) -> None:
    store, home, layout = two_builds
    # A page the render no longer produces (here: one put into the docs folder by hand,
    # which the next render prunes, beside a real edit) is deleted from the site with its
    # search entries.
    stale_doc = layout.docs / "incidents" / "github" / "gone.md"
    stale_doc.write_text((layout.docs / "incidents/github/01sqkcp7z62r.md").read_text())
    stale_html = layout.site / "incidents" / "github" / "gone" / "index.html"
    stale_html.parent.mkdir()
    shutil.copyfile(layout.site / CHANGED, stale_html)
    index = layout.site / "search" / "search_index.json"
    data = json.loads(index.read_bytes())
    data["docs"].append({"location": "incidents/github/gone/", "title": "gone", "text": "x"})
    index.write_text(json.dumps(data))
    edit_incident(store, home, "Renamed again")

    again = build_site(store, layout, as_of=AS_OF)
    assert again.incremental and again.render.removed == ["incidents/github/gone.md"]
    assert not stale_html.exists() and not stale_html.parent.exists()
    assert not any(loc.startswith("incidents/github/gone/")
                   for loc, _, _ in search_entries(layout.site))


def test_a_build_cut_short_makes_the_next_one_full(
        two_builds: tuple[Store, Path, Layout], monkeypatch: pytest.MonkeyPatch) -> None:
    store, home, layout = two_builds
    edit_incident(store, home, "First rename")

    def broken(*_args: object) -> int:
        raise KbError("mkdocs: killed")

    monkeypatch.setattr(site_build, "run_mkdocs_pages", broken)
    with pytest.raises(KbError):
        build_site(store, layout, as_of=AS_OF)
    monkeypatch.undo()
    # The docs folder already holds the new page; the site does not. Nothing looks changed
    # to the render, so only the stamp can tell: the next build must be full.
    again = build_site(store, layout, as_of=AS_OF)
    assert again.render.written == []
    assert again.built and not again.incremental
    assert "First rename" in (layout.site / CHANGED).read_text()


def test_a_changed_theme_or_config_rebuilds_everything(
        two_builds: tuple[Store, Path, Layout], tmp_path: Path) -> None:
    store, home, layout = two_builds
    config = tmp_path / "mkdocs.yml"
    text = (ROOT / "mkdocs.yml").read_text().replace("accent: deep orange", "accent: indigo")
    config.write_text(text.replace("custom_dir: site/", f"custom_dir: {ROOT}/site/")
                      .replace("  - site/hooks/", f"  - {ROOT}/site/hooks/"))
    other = Layout(config, layout.build, ROOT / "site")
    edit_incident(store, home, "Second rename")
    again = build_site(store, other, as_of=AS_OF)
    assert again.built and not again.incremental
    assert "indigo" in (layout.site / "index.html").read_text()


def test_a_changed_hand_written_page_rebuilds_everything(
        two_builds: tuple[Store, Path, Layout], tmp_path: Path) -> None:
    # A hand-written Markdown page (site/pages) may link to any page by its .md name, which
    # mkdocs resolves against the whole file list: never built one by one.
    store, _, layout = two_builds
    sources = tmp_path / "site-copy"
    shutil.copytree(ROOT / "site", sources)
    about = sources / "pages" / "about.md"
    about.write_text(about.read_text() + "\nOne more line, see [the data](data.md).\n")
    other = Layout(layout.config, layout.build, sources)
    again = build_site(store, other, as_of=AS_OF)
    assert again.render.written == ["about.md"]
    assert again.built and not again.incremental
    assert 'href="../data/"' in (layout.site / "about" / "index.html").read_text()


def test_a_chunked_full_build_writes_what_mkdocs_build_writes(
        two_builds: tuple[Store, Path, Layout], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, layout = two_builds  # built by mkdocs' build(): the fixture is small
    monkeypatch.setattr(site_build, "CHUNKED_FROM", 0)
    monkeypatch.setattr(site_build, "CHUNK", 7)  # several chunks, the last one short
    chunked = find_layout(ROOT / "mkdocs.yml", tmp_path / "chunked")
    report = build_site(store, chunked, as_of=AS_OF)
    assert report.built and not report.incremental
    mkdocs_files = {p.relative_to(layout.site).as_posix(): p.read_bytes()
                    for p in sorted(layout.site.rglob("*")) if p.is_file()}
    chunked_files = {p.relative_to(chunked.site).as_posix(): p.read_bytes()
                     for p in sorted(chunked.site.rglob("*")) if p.is_file()}
    assert sorted(chunked_files) == sorted(mkdocs_files)
    differ = [name for name in mkdocs_files if chunked_files[name] != mkdocs_files[name]]
    # The chunked build writes the search index one entry a line: the same JSON value.
    index = "search/search_index.json"
    assert differ == [index]
    assert json.loads(chunked_files[index]) == json.loads(mkdocs_files[index])
    assert chunked_files[index].count(b"\n") == len(json.loads(chunked_files[index])["docs"]) + 1

    # A page's entries patched into either form of the index give the same value.
    from kb.render.build import _patch_search_index

    entries = json.loads(mkdocs_files[index])["docs"]
    url = entries[-1]["location"].split("#", 1)[0]
    new = [{"location": url, "title": "New \u2028 title\n", "text": "x"}]
    for site in (layout.site, chunked.site):
        _patch_search_index(site / index, {url}, new)
    patched = [json.loads((s / index).read_bytes()) for s in (layout.site, chunked.site)]
    assert patched[0] == patched[1]
    assert patched[0]["docs"] == [e for e in entries
                                  if e["location"].split("#", 1)[0] != url] + new


@pytest.mark.slow
def test_the_cli_says_when_only_changed_pages_were_built(tmp_path: Path, kb_home: Path) -> None:
    import os
    import subprocess
    import sys

    def kb(*args: str) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True,
                              text=True, env=dict(os.environ, KB_SITE_DRAFT_DAYS="0"),
                              cwd=ROOT, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if "--json" in args else {}

    kb("ingest", str(FIX))
    out = tmp_path / "out"
    first = kb("site", "build", "--out", str(out), "--as-of", "2026-09-15", "--json")
    assert first["mkdocs_ran"] and not first["mkdocs_changed_pages_only"]
    payload = json.loads((FIX / "github_01sqkcp7z62r.json").read_text())
    payload["page"]["updated_at"] = "2030-01-01T00:00:00Z"
    payload["incident"]["name"] = "Renamed through the CLI"
    (tmp_path / "edit.json").write_text(json.dumps(payload))
    kb("ingest", str(tmp_path / "edit.json"))
    second = kb("site", "build", "--out", str(out), "--as-of", "2026-09-15", "--json")
    assert second["mkdocs_ran"] and second["mkdocs_changed_pages_only"]
    assert "Renamed through the CLI" in (out / "site" / CHANGED).read_text()


# -- changed-keys builds: only the changed incidents' pages are rendered ---------------------

KEY = "github/01sqkcp7z62r"
DOC = "incidents/github/01sqkcp7z62r.md"


@pytest.fixture
def rich_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, Path, Layout]:
    """The fixture KB with what `kb update` adds (vectors of the fake-hash encoder, cause
    tags), so the similar, causes, metrics and reliability sections are in the pages, and
    a full build of it."""
    from kb.config import load_settings
    from kb.pipeline import run_later_stages
    from kb.stage import RunReport, StageContext

    monkeypatch.setenv("KB_EMBED_MODEL", "fake-hash")
    home = tmp_path / "home"
    home.mkdir()
    store = kb_of(home)
    settings = load_settings({"KB_HOME": str(home), "KB_EMBED_MODEL": "fake-hash"})
    context = StageContext(store, settings, RunReport())
    run_later_stages(context, only=["embed", "analysis"])
    assert not context.report.failures, context.report.failures
    layout = find_layout(ROOT / "mkdocs.yml", tmp_path / "build")
    first = build_site(store, layout, as_of=AS_OF)
    assert first.built and not first.render.scoped
    return store, home, layout


def docs_files(docs: Path) -> dict[str, bytes]:
    return {p.relative_to(docs).as_posix(): p.read_bytes() for p in sorted(docs.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def entries_at(site: Path, urls: set[str]) -> set[tuple[str, str, str]]:
    return {e for e in search_entries(site) if e[0].split("#", 1)[0] in urls}


def test_changed_keys_render_only_their_pages_as_a_full_build_writes_them(
        rich_build: tuple[Store, Path, Layout], tmp_path: Path) -> None:
    store, home, layout = rich_build
    before = {p: p.stat().st_mtime_ns for p in layout.docs.rglob("*")
              if p.is_file() and not p.name.startswith(".")}
    full_pages = sum(1 for p in before if p.suffix == ".md")
    edit_incident(store, home, "Renamed by the vendor")

    # Two more keys, unchanged but named: pages with the similar and causes sections, of
    # another provider too, rendered in the scope (and so the same as before).
    also = ["anthropic/005ym4vzrq2w", "github/024l0wdz0c50"]
    again = build_site(store, layout, as_of=AS_OF, changed=[KEY, *also])
    assert again.render.scoped and again.built and again.incremental
    written = set(again.render.written)
    # The incident's page, its provider's pages, the lists that show it, feeds, the export.
    assert {DOC, "providers/github.md", "index.md", "feeds/all.atom", "feeds/github.atom",
            "data/incidents.jsonl"} <= written
    assert again.render.pages < full_pages / 2, (again.render.pages, full_pages)
    assert again.render.removed == []
    untouched = [p for p, mtime in before.items()
                 if p.relative_to(layout.docs).as_posix() not in written]
    assert [p for p in untouched if p.stat().st_mtime_ns != before[p]] == []
    stamp = (layout.build / site_build.STAMP).read_text().splitlines()
    assert stamp[0].startswith(site_build.SINCE) and len(stamp[0]) == len(site_build.SINCE) + 64

    full = find_layout(ROOT / "mkdocs.yml", tmp_path / "full")
    assert build_site(store, full, as_of=AS_OF, force=True).built
    ours, theirs = docs_files(layout.docs), docs_files(full.docs)
    # Every file the changed-keys build wrote is the full build's, byte for byte ...
    assert [p for p in sorted(written) if ours[p] != theirs[p]] == []
    assert "Renamed by the vendor" in (layout.site / CHANGED).read_text()
    assert b"kb-section-similar" in ours["incidents/anthropic/005ym4vzrq2w.md"]
    assert b"kb-section-causes" in ours["incidents/github/024l0wdz0c50.md"]
    assert b"kb-section-reliability" in ours["providers/anthropic.md"]
    pages = {p for p in written if p.endswith(".md")}
    html = {site_build._page_dest(p) for p in pages}
    assert {h: (layout.site / h).read_bytes() for h in html} == {
        h: (full.site / h).read_bytes() for h in html}
    # ... and so are their search entries (the other pages' entries are untouched).
    urls = {site_build._page_url(p) for p in pages}
    assert entries_at(layout.site, urls) == entries_at(full.site, urls)
    assert any("Renamed by the vendor" in title for _, title, _ in entries_at(layout.site, urls))

    # What it leaves for the next full build (docs/site.md): other incidents' pages that
    # list the changed one (similar incidents, with its title), and the aggregate pages.
    stale = sorted(p for p in ours if ours[p] != theirs.get(p))
    assert set(ours) == set(theirs)  # nothing missing, nothing extra
    for path in stale:
        assert path.startswith(("causes/", "compare/")) or (
            path.startswith("incidents/") and "01sqkcp7z62r" in ours[path].decode()), path

    # A build without changed keys renders everything and fixes them.
    whole = build_site(store, layout, as_of=AS_OF)
    assert not whole.render.scoped and set(whole.render.written) == set(stale)
    assert docs_files(layout.docs) == theirs
    assert html_files(layout.site) == html_files(full.site)
    assert search_entries(layout.site) == search_entries(full.site)
    digest = (layout.build / site_build.STAMP).read_text().splitlines()[0]
    assert len(digest) == 64 and not digest.startswith(site_build.SINCE)


def test_an_unchanged_key_writes_nothing_and_keeps_the_stamp(
        rich_build: tuple[Store, Path, Layout]) -> None:
    store, _, layout = rich_build
    stamp = (layout.build / site_build.STAMP).read_text()
    again = build_site(store, layout, as_of=AS_OF, changed=[KEY])
    assert again.render.scoped and again.render.written == [] and not again.built
    assert (layout.build / site_build.STAMP).read_text() == stamp


@pytest.mark.parametrize("case", ["no earlier build", "removed key", "too many", "cut short",
                                  "force"])
def test_changed_keys_fall_back_to_a_full_build(
        two_builds: tuple[Store, Path, Layout], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    from kb.render import site as render_site_module

    store, home, layout = two_builds
    edit_incident(store, home, "Renamed for a full build")
    changed, force = [KEY], False
    if case == "no earlier build":
        layout = find_layout(ROOT / "mkdocs.yml", tmp_path / "fresh")
    elif case == "removed key":
        changed = [KEY, "github/no-such-incident"]
    elif case == "too many":
        monkeypatch.setattr(render_site_module, "SCOPED_MAX", 0)
    elif case == "cut short":
        (layout.build / site_build.STAMP).write_text("incomplete\n\n")
    else:
        force = True
    again = build_site(store, layout, as_of=AS_OF, changed=changed, force=force)
    assert not again.render.scoped and again.built
    assert again.render.digest  # a full render: its digest is the stamp's
    assert (layout.build / site_build.STAMP).read_text().startswith(
        site_build._inputs_digest(layout, again.render.digest))
    assert "Renamed for a full build" in (layout.site / CHANGED).read_text()


def test_a_changed_theme_makes_a_changed_keys_build_full(
        two_builds: tuple[Store, Path, Layout], tmp_path: Path) -> None:
    store, home, layout = two_builds
    config = tmp_path / "mkdocs.yml"
    text = (ROOT / "mkdocs.yml").read_text().replace("accent: deep orange", "accent: indigo")
    config.write_text(text.replace("custom_dir: site/", f"custom_dir: {ROOT}/site/")
                      .replace("  - site/hooks/", f"  - {ROOT}/site/hooks/"))
    edit_incident(store, home, "Renamed with a new theme")
    again = build_site(store, Layout(config, layout.build, ROOT / "site"), as_of=AS_OF,
                       changed=[KEY])
    assert not again.render.scoped and again.built and not again.incremental
    assert "indigo" in (layout.site / "index.html").read_text()


def test_the_site_stage_takes_the_changed_path_from_the_run_report(
        two_builds: tuple[Store, Path, Layout], monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.config import load_settings
    from kb.render.stage import site_stage
    from kb.stage import RunReport, StageContext

    store, home, layout = two_builds
    edit_incident(store, home, "Renamed in a watch round")
    monkeypatch.setenv("KB_SITE_DIR", str(layout.build))
    monkeypatch.setenv("KB_SITE_DRAFT_DAYS", "0")
    report = RunReport()
    report.count("github", KEY, "updated")
    note = site_stage(StageContext(store, load_settings({"KB_HOME": str(home)}), report))
    assert note is not None and note.startswith("1 changed incidents: "), note
    assert "Renamed in a watch round" in (layout.site / CHANGED).read_text()
    assert (layout.build / site_build.STAMP).read_text().startswith(site_build.SINCE)


def test_one_neighbour_query_finds_what_all_pairs_find(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from kb.embed import site_sections as similar

    monkeypatch.setattr(similar, "CHUNK", 7)  # several blocks, a ragged last one
    matrix = np.random.default_rng(5).normal(size=(40, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    keys = [f"p/{n:03d}" for n in range(40)]
    everything = similar._top(matrix, keys)
    rows = [0, 13, 39]
    some = similar._top(matrix, keys, rows)
    assert set(some) == {keys[r] for r in rows}
    assert all(some[keys[r]] == everything[keys[r]] for r in rows)  # the same floats


@pytest.mark.parametrize("text", ["", "not json\n", '{"key":"a/1"}\n{"key":"a/1"}\n',
                                  '{"key":"a/1"}', '{"key":"b/1"}\n{"key":"a/1"}\n',
                                  '{"key":"a/1"}\n\xff\n'])
def test_an_export_that_is_not_ours_is_written_again_whole(tmp_path: Path, text: str) -> None:
    from kb.render import paths
    from kb.render.output import Output
    from kb.render.site import _patch_export

    out = Output(tmp_path / "docs")
    assert not _patch_export(out, [])  # missing
    path = out.root / paths.EXPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert not _patch_export(out, [])
    assert path.read_text() == text  # left for the whole export to replace
    assert not out.written and not out.produced
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


@pytest.mark.slow
def test_scoped_signals_are_the_full_builds_for_the_changed_incident(tmp_path: Path) -> None:
    """The signals slot in a changed-keys build reads the changed incidents' links only, and
    shows what a full build shows for them (the recorded HN stories of tests/fixtures/signals,
    linked by `kb update`)."""
    import os
    import subprocess
    import sys

    from kb.config import load_settings
    from kb.render.sections import BuildContext, Registry, Scope
    from kb.signals import site_sections as community

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fix = ROOT / "tests" / "fixtures" / "signals"
    for name in ("anthropic_incidents_slice.json", "algolia_search_page0.json",
                 "algolia_search_page1.json"):
        shutil.copy(fix / name, inbox / name)
    home = tmp_path / "home"
    env = dict(os.environ, KB_HOME=str(home), KB_SITE_DIR=str(tmp_path / "build"),
               KB_SOURCES=str(PACKAGED_SOURCES), KB_EMBED_MODEL="fake-hash")
    done = subprocess.run([sys.executable, "-m", "kb", "update", "--from", str(inbox)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    store, _ = Store.open(load_settings({"KB_HOME": str(home)}).database_url)
    incidents = {i.key: i for i in store.incidents()}
    full = community._prepare(store, BuildContext(store, AS_OF))
    linked = sorted(full.by_incident)
    assert linked, "the fixture links no story"
    key = linked[0]
    scope = Scope(frozenset({key}), frozenset({incidents[key].provider}))
    scoped = community._prepare(store, BuildContext(store, AS_OF, scope=scope))
    assert set(scoped.by_incident) == {key}
    assert set(scoped.by_id) < set(full.by_id)  # not every signal of the KB
    section = community.SECTIONS[0]
    assert (Registry([section], states={"incident:signals": scoped}).blocks("incident",
                                                                            incidents[key])
            == Registry([section], states={"incident:signals": full}).blocks("incident",
                                                                             incidents[key]))
