"""The built site in a real browser: Debian's chromium driven by Playwright, the site served on
127.0.0.1 from a fixture database (built once for the module).

Needs /usr/bin/chromium (`apt-get install chromium`) and the `playwright` Python package;
never a downloaded browser. Skipped, with the reason, where either is missing; CI installs
both. Screenshots of the home page and one incident page go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.model import Incident
from kb.pipeline import Line, ingest
from kb.render.build import Layout, build_site, find_layout
from kb.render.sections import IncidentLink, Links, Section
from kb.render.serve import serve_in_thread
from kb.store import Store
from scrapers.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "site"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update"]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright Python package is not installed "
    "(pip install playwright; the browser itself comes from apt: chromium)")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} is missing (apt-get install chromium); no browser is ever downloaded",
)


def similar_section() -> Section:
    """A stand-in for the similar-incidents feature (links each incident to the others of its
    provider), to check that section links resolve in the browser."""

    def prepare(store: Store) -> dict[str, list[str]]:
        keys: dict[str, list[str]] = {}
        for incident in store.incidents():
            keys.setdefault(incident.provider, []).append(incident.key)
        return keys

    def provide(state: dict[str, list[str]], incident: Incident) -> Links | None:
        others = [k for k in state.get(incident.provider, []) if k != incident.key][:3]
        return Links([IncidentLink(k, score=0.7) for k in others]) if others else None

    return Section("similar", "Similar past incidents", provide, order=30, prepare=prepare)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Layout, str]]:
    home = tmp_path_factory.mktemp("browserkb")
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    sources = load_sources(PACKAGED_SOURCES)
    report = ingest(Line(store, Archive(home / "raw"), sources), [FIX])
    assert not report.failures
    layout = find_layout(ROOT / "mkdocs.yml", home / "build")
    build_site(store, layout, as_of=date(2026, 9, 15), extra_sections=[similar_section()])
    server, base = serve_in_thread(layout.site)
    yield store, layout, base
    server.shutdown()
    server.server_close()


class Watch:
    """What a page did: console errors, dialogs, and requests that tried to leave 127.0.0.1
    (those are aborted, so a failure never reaches the network)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []

    def attach(self, context: Any, page: Any) -> None:
        def route(handle: Any) -> None:
            url = handle.request.url
            if url.startswith(self.base) or url.startswith(("data:", "blob:", "about:")):
                handle.continue_()
            else:
                self.outside.append(url)
                handle.abort()

        context.route("**/*", route)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, site: tuple[Store, Layout, str]) -> Iterator[tuple[Any, Watch]]:
    _, _, base = site
    context = browser.new_context(timezone_id="Asia/Kolkata", viewport={"width": 1280,
                                                                          "height": 900})
    tab = context.new_page()
    watch = Watch(base)
    watch.attach(context, tab)
    yield tab, watch
    context.close()
    assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"
    assert watch.errors == [], f"console errors: {watch.errors}"
    assert watch.failed == [], f"failed responses: {watch.failed}"
    assert watch.dialogs == [], f"dialogs opened: {watch.dialogs}"


def screenshot(tab: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact and check it is a real PNG image
    (checked here, not by a later test: under pytest-xdist another worker may run that one
    first)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)  # a stale file from an earlier run must not pass
    tab.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_home_lists_incidents(page: tuple[Any, Watch], site: tuple[Store, Layout, str]) -> None:
    tab, _ = page
    store, _, base = site
    tab.goto(base)
    links = tab.locator(".kb-recent a[href*='incidents/']")
    newest = next(store.incidents(newest_first=True, limit=1))
    assert links.count() >= 10
    assert links.first.inner_text() == newest.title
    # One row of bars per provider (a stale one adds a row of its last observed days).
    assert tab.locator(".kb-bars-table tr:not(.kb-stale-bars) svg.kb-bars").count() == \
        len(store.provider_names())
    screenshot(tab, "site-home.png")
    links.first.click()
    tab.wait_for_load_state()
    assert tab.url.rstrip("/").endswith(f"incidents/{newest.key}")


def test_incident_page_shows_timeline_picture_and_rows(
    page: tuple[Any, Watch], site: tuple[Store, Layout, str],
) -> None:
    tab, _ = page
    store, _, base = site
    incident = store.get("anthropic/005ym4vzrq2w")
    tab.goto(f"{base}incidents/anthropic/005ym4vzrq2w/")
    picture = tab.locator("svg.kb-timeline")
    assert picture.is_visible()
    box = picture.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 30
    assert tab.locator("svg.kb-timeline line.kb-tick").count() == len(incident.updates)
    rows = tab.locator("tr.kb-update")
    assert rows.count() == len(incident.updates)
    assert incident.updates[0].text[:40] in rows.first.inner_text()
    screenshot(tab, "site-incident.png")
    # The local-time toggle rewrites the UTC times in the reader's zone (Asia/Kolkata here).
    first_time = tab.locator("tr.kb-update time").first
    assert first_time.inner_text().endswith(" UTC")
    tab.locator(".kb-tz-toggle").click()
    assert first_time.inner_text().endswith("UTC+05:30")
    tab.locator(".kb-tz-toggle").click()
    assert first_time.inner_text().endswith(" UTC")


def test_search_finds_an_incident_by_a_word_from_its_updates(
    page: tuple[Any, Watch], site: tuple[Store, Layout, str],
) -> None:
    tab, _ = page
    store, _, base = site
    incident = store.get("anthropic/461yvfrzpwtt")
    words = {w for u in incident.updates for w in re.findall(r"[a-z]{6,}", u.text.lower())}
    others = " ".join(i.title + " ".join(u.text for u in i.updates)
                      for i in store.incidents() if i.key != incident.key).lower()
    word = sorted(w for w in words if w not in others)[0]
    tab.goto(base)
    tab.locator("label.md-search__icon, .md-search__input").first.click()
    tab.locator("input.md-search__input").press_sequentially(word, delay=20)  # keyup events
    hit = tab.locator(".md-search-result__item a[href*='incidents/anthropic/461yvfrzpwtt']")
    hit.first.wait_for(timeout=15_000)
    hit.first.click()
    tab.wait_for_load_state()
    assert "incidents/anthropic/461yvfrzpwtt/" in tab.url
    assert tab.locator("h1").first.inner_text() == incident.title


def test_similar_incident_links_resolve(
    page: tuple[Any, Watch], site: tuple[Store, Layout, str],
) -> None:
    tab, _ = page
    store, _, base = site
    tab.goto(f"{base}incidents/anthropic/005ym4vzrq2w/")
    links = tab.locator(".kb-section-similar a.kb-incident-link")
    assert links.count() == 3
    targets = [(links.nth(i).inner_text(), links.nth(i).get_attribute("href")) for i in range(3)]
    for title, href in targets:
        tab.goto(f"{base}incidents/anthropic/005ym4vzrq2w/")
        tab.locator(f".kb-section-similar a.kb-incident-link[href='{href}']").click()
        tab.wait_for_load_state()
        assert tab.locator("h1").first.inner_text() == title
        key = "/".join(tab.url.rstrip("/").split("/")[-2:])
        assert store.get(key).title == title


def test_hostile_payloads_execute_nothing(
    page: tuple[Any, Watch], site: tuple[Store, Layout, str],
) -> None:
    tab, _ = page
    store, _, base = site
    incident = store.get("hostile/h0st1le0001")
    for path in ("incidents/hostile/h0st1le0001/", "incidents/hostile/h0st1le0002/",
                 "providers/hostile/", "components/", "years/2026/", "",
                 "postmortems/hostile--h0st1le0001/"):  # its published postmortem draft
        tab.goto(base + path)
        tab.wait_for_load_state("networkidle")
        tab.mouse.move(300, 300)  # hover handlers, were there any
        assert tab.evaluate("typeof window.__pwned") == "undefined", path
    tab.goto(base + "incidents/hostile/h0st1le0001/")
    heading = tab.locator("h1").first.inner_text()
    assert heading.startswith("<script>window.__pwned=1</script>Hostile <img src=x onerror=")
    assert "{{ 7*7 }}" in heading and "[U+202E]evil-rlo" in heading
    assert tab.locator("article img, article iframe").count() == 0
    assert incident.components[0].name.split(">")[0] in tab.locator("a.kb-chip").inner_text()
    # The search box renders result titles as HTML: a hostile title must still be inert.
    tab.locator("label.md-search__icon, .md-search__input").first.click()
    tab.locator("input.md-search__input").press_sequentially("HOSTILEMARK", delay=20)
    tab.locator(".md-search-result__item").first.wait_for(timeout=15_000)
    assert "<script>window.__pwned=1</script>" in tab.locator(".md-search-result").inner_text()
    assert tab.evaluate("typeof window.__pwned") == "undefined"
