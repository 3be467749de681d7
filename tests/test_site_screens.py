"""The built site on real screens: Debian's chromium (Playwright) at a phone's width (390 px)
and a desktop's (1280 px), measuring what a reader gets: how wide the timeline's text is, how
tall the pages are, how many bytes a first visit transfers.

The site is built once for the module from tests/fixtures/site plus
tests/fixtures/site_screens (a 25-update GitHub incident; ORIGIN.md). 390 px screenshots go
to test-artifacts/. Skipped, with the reason, where chromium or playwright is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.render.build import Layout, build_site, find_layout
from kb.render.serve import serve_in_thread
from kb.store import Store
from scrapers.archive import Archive
from tests.test_site_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, Watch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = [ROOT / "tests" / "fixtures" / "site", ROOT / "tests" / "fixtures" / "site_screens"]
AS_OF = date(2026, 9, 15)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LONG = "github/cmsz976yn1km"  # 25 updates, the longest timeline of the fixtures

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright Python package is not installed "
    "(pip install playwright; the browser itself comes from apt: chromium)")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} is missing (apt-get install chromium); no browser is ever downloaded",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Layout, str]]:
    home = tmp_path_factory.mktemp("screenskb")
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    report = ingest(Line(store, Archive(home / "raw"), load_sources(PACKAGED_SOURCES)),
                    FIXTURES)
    assert not report.failures
    layout = find_layout(ROOT / "mkdocs.yml", home / "build")
    build_site(store, layout, as_of=AS_OF)
    server, base = serve_in_thread(layout.site)
    yield store, layout, base
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_tab(browser: Any, site: tuple[Store, Layout, str]) -> Iterator[Any]:
    """`open_tab(viewport)` gives a fresh tab (own context: empty cache) with the Watch of
    test_site_browser: console errors, dialogs, failed or off-host requests fail the test."""
    _, _, base = site
    opened: list[tuple[Any, Watch]] = []

    def make(viewport: dict[str, int]) -> Any:
        context = browser.new_context(viewport=viewport)
        tab = context.new_page()
        watch = Watch(base)
        watch.attach(context, tab)
        opened.append((context, watch))
        return tab

    yield make
    for context, watch in opened:
        context.close()
        assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"
        assert watch.errors == [], f"console errors: {watch.errors}"
        assert watch.failed == [], f"failed responses: {watch.failed}"
        assert watch.dialogs == [], f"dialogs opened: {watch.dialogs}"


def shot(tab: Any, name: str) -> Path:
    """A full-page screenshot kept as a test artifact (the measurements are the assertions)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    tab.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def height(tab: Any) -> int:
    return int(tab.evaluate("document.documentElement.scrollHeight"))


def url_of(base: str, key: str) -> str:
    return f"{base}incidents/{key}/"


def test_phone_timeline_gives_each_update_the_screen_width(
    open_tab: Any, site: tuple[Store, Layout, str],
) -> None:
    store, _, base = site
    incident = store.get(LONG)
    assert incident is not None and len(incident.updates) == 25
    phone, desktop = open_tab(PHONE), open_tab(DESKTOP)
    for tab in (phone, desktop):
        tab.goto(url_of(base, LONG))
    texts = phone.locator("tr.kb-update td.kb-text")
    assert texts.count() == 25
    widths = [texts.nth(i).bounding_box()["width"] for i in range(texts.count())]
    # As a table the Update column got ~62 px of the 390; as cards, nearly all of the width.
    assert min(widths) >= 300, widths
    # Nothing overflows sideways: the page is no wider than the phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Each card's text starts below its time, not beside it.
    times = phone.locator("tr.kb-update td:first-child")
    assert texts.first.bounding_box()["y"] > times.first.bounding_box()["y"]
    # The page is taller on a phone, but by the narrower lines, not by a squeezed column
    # (the table layout made it ~4.5 times the desktop's height on corpus incidents).
    table_phone = phone.locator("table.kb-timeline-table").bounding_box()["height"]
    table_desk = desktop.locator("table.kb-timeline-table").bounding_box()["height"]
    assert table_phone <= 3 * table_desk, (table_phone, table_desk)
    assert height(phone) <= 3 * height(desktop), (height(phone), height(desktop))
    # On the desktop it stays a table with its header.
    assert desktop.locator("table.kb-timeline-table thead th").first.is_visible()
    assert desktop.locator("tr.kb-update td.kb-text").first.evaluate(
        "el => getComputedStyle(el).display") == "table-cell"
    shot(phone, "site-phone-incident.png")
    shot(desktop, "site-desktop-incident.png")


def first_visit(tab: Any, url: str) -> dict[str, int]:
    """Open `url` in a tab with an empty cache and wait until the network is idle; returns
    the bytes transferred per URL (headers + body as sent, i.e. compressed)."""
    responses: list[Any] = []
    tab.on("response", lambda r: responses.append(r))
    tab.goto(url, wait_until="networkidle")
    tab.wait_for_timeout(1500)  # a late request (the theme asks for the index late) shows here
    sent: dict[str, int] = {}
    for response in responses:
        sizes = response.request.sizes()
        sent[response.url] = sizes["responseBodySize"] + sizes["responseHeadersSize"]
    return sent


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_first_visit_is_small_and_the_search_index_waits_for_a_search(
    open_tab: Any, site: tuple[Store, Layout, str], viewport: dict[str, int],
) -> None:
    store, layout, base = site
    index_bytes = (layout.site / "search" / "search_index.json").stat().st_size
    assert index_bytes > 10_000
    for url in (base, url_of(base, LONG)):
        tab = open_tab(viewport)
        sent = first_visit(tab, url)
        assert url in sent and sum(sent.values()) < 1_000_000, sent
        assert not [u for u in sent if "search_index" in u], sent
        # Served compressed: the page's bytes on the wire are well under its size on disk.
        page = tab.request.get(url, headers={"Accept-Encoding": "gzip"})
        assert page.headers.get("content-encoding") == "gzip"
    # The first search loads it, and the search works.
    requested: list[str] = []
    tab.on("request", lambda r: requested.append(r.url))
    toggle = tab.locator("label.md-header__button[for='__search']")
    (toggle if toggle.is_visible() else tab.locator("input.md-search__input")).click()
    tab.locator("input.md-search__input").press_sequentially("Codespaces", delay=20)
    hit = tab.locator(".md-search-result__item a[href*='incidents/github/cmsz976yn1km']")
    hit.first.wait_for(timeout=15_000)
    assert [u for u in requested if u.endswith("search/search_index.json")]
    assert store.get(LONG) is not None


def kb_json(home: Path, *args: str) -> Any:
    """A `kb` command through the real CLI on the fixture's home, its --json output."""
    env = {**os.environ, "KB_HOME": str(home), "KB_DATABASE_URL": f"sqlite:///{home / 'kb.db'}"}
    done = subprocess.run([sys.executable, "-m", "kb", *args, "--json"], env=env, text=True,
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_provider_page_groups_by_year_with_kb_metrics_figures(
    site: tuple[Store, Layout, str],
) -> None:
    store, layout, _ = site
    page = BeautifulSoup((layout.site / "providers" / "github" / "index.html").read_text(),
                         "html.parser")
    rows = page.select("table.kb-years tbody tr")
    years = [r.find("td").get_text() for r in rows]
    assert years == ["2023", "2013", "2011", "all"]
    reliability = {tr.find_all("td")[0].get_text(): [td.get_text() for td in tr.find_all("td")]
                   for tr in page.select(".kb-section-reliability table")[0].select("tbody tr")}
    home = layout.build.parent
    for row in rows[:-1]:
        cells = [td.get_text() for td in row.find_all("td")]
        year = cells[0]
        listed = [i for i in store.incidents(provider="github")
                  if (i.first_posted and i.first_posted.year == int(year))]
        assert cells[1] == str(len(listed))
        # The year's figures are the Reliability table's row for that year, cell for cell ...
        assert cells[2:5] == reliability[year][1:4] and cells[5] == reliability[year][5]
        # ... which are kb metrics' for the calendar year.
        metrics = kb_json(home, "metrics", "--provider", "github", "--period", year,
                          "--end", AS_OF.isoformat())["rows"][0]
        assert cells[2].split(" ")[0] == str(metrics["incidents"])
        assert cells[3].startswith(metrics["uptime_text"])
        link = row.find("a")["href"]
        year_page = (layout.site / "providers" / "github" / link.rstrip("/").split("/")[-1]
                     / "index.html")
        assert year_page.is_file(), link
        listing = BeautifulSoup(year_page.read_text(), "html.parser")
        assert len(listing.select("tr.kb-facet-row")) == len(listed)
    # The provider page lists only its newest incidents, not the whole history.
    assert len(page.select(".kb-history tr")) <= 1 + 20


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_year_page_filters_by_component_severity_and_cause(
    open_tab: Any, site: tuple[Store, Layout, str], viewport: dict[str, int],
) -> None:
    store, _, base = site
    tab = open_tab(viewport)
    tab.goto(f"{base}providers/anthropic/2026/")
    form = tab.locator("form.kb-filter")
    assert form.is_visible()
    rows = tab.locator("tr.kb-facet-row")
    listed = [i for i in store.incidents(provider="anthropic") if i.first_posted
              and i.first_posted.year == 2026]
    assert rows.count() == len(listed) >= 8

    def shown() -> int:
        return tab.locator("tr.kb-facet-row:visible").count()

    severities = {i.stated_severity for i in listed}
    for severity in severities:
        form.locator("select[name=severity]").select_option(severity)
        assert shown() == sum(1 for i in listed if i.stated_severity == severity)
        assert tab.locator(".kb-filter-count").inner_text() == f"{shown()} of {len(listed)} shown"
    form.locator("select[name=severity]").select_option("")
    names = sorted({c.name for i in listed for c in i.components})
    assert names
    form.locator("select[name=component]").select_option(names[0])
    assert shown() == sum(1 for i in listed if names[0] in {c.name for c in i.components})
    form.locator("select[name=component]").select_option("")
    # "none stated" shows the incidents with no stated cause (before `kb causes`: all).
    form.locator("select[name=cause]").select_option("-")
    causes = [o for o in form.locator("select[name=cause] option").all_inner_texts()
              if o not in ("any", "none stated")]
    assert shown() <= len(listed) and (shown() == len(listed)) == (not causes)
    if viewport is PHONE:
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        shot(tab, "site-phone-provider-year.png")


def test_year_page_without_javascript_lists_everything(
    browser: Any, site: tuple[Store, Layout, str],
) -> None:
    _, _, base = site
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        tab = context.new_page()
        tab.goto(f"{base}providers/anthropic/2026/")
        assert not tab.locator("form.kb-filter").is_visible()
        assert tab.locator("tr.kb-facet-row:visible").count() == \
            tab.locator("tr.kb-facet-row").count() >= 8
    finally:
        context.close()


def last_covered_day(store: Store, provider: str) -> date:
    """The last day a stored payload covers (kb.analysis.coverage, as kb metrics reads it)."""
    from kb.analysis.coverage import coverage_from_payloads
    from kb.store.analysis import payload_spans

    end = coverage_from_payloads(payload_spans(store))[provider].end
    assert end is not None
    return (end - timedelta(microseconds=1)).date()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_a_provider_no_longer_observed_says_so_and_shows_its_last_observed_days(
    open_tab: Any, site: tuple[Store, Layout, str], viewport: dict[str, int],
) -> None:
    store, _, base = site
    last = last_covered_day(store, "github")
    assert (AS_OF - last).days > 365  # the fixture's GitHub payloads end in 2023
    tab = open_tab(viewport)
    tab.goto(base)
    row = tab.locator(".kb-bars-table tr.kb-stale", has=tab.locator("a[href*='providers/github']"))
    assert row.locator(".kb-last-observed").inner_text() == f"last observed on {last}"
    # Today's view stays: 90 grey days (no data), never green.
    today = row.locator("svg.kb-bars title").all_text_contents()
    assert len(today) == 90 and all("no data" in t for t in today), today[:3]
    # Beside it, the 90 days up to the last observed one, with the incident of 2023-02-07.
    stale = tab.locator(".kb-bars-table tr.kb-stale:has(a[href*='providers/github'])"
                        " + tr.kb-stale-bars")
    bars = stale.locator("svg.kb-bars")
    assert bars.is_visible() and bars.get_attribute("aria-label").endswith(str(last))
    # Both rows of bars get a readable width on a phone too (stacked, not squeezed).
    for svg in (row.locator("svg.kb-bars"), bars):
        assert svg.bounding_box()["width"] >= min(300, viewport["width"] - 90)
    titles = bars.locator("title").all_text_contents()
    assert len(titles) == 90 and titles[-1].startswith(str(last))
    assert any(t.startswith("2023-02-07") and "incident" in t for t in titles), titles[-5:]
    # A provider observed up to the as-of day has no such note.
    fresh = tab.locator(".kb-bars-table tr", has=tab.locator("a[href*='providers/anthropic']"))
    assert fresh.locator(".kb-last-observed").count() == 0
    # The provider page says it too, and nothing is wider than the screen.
    tab.goto(f"{base}providers/github/")
    assert tab.locator("p.kb-last-observed").inner_text().startswith(f"Last observed on {last}")
    assert tab.locator("svg.kb-bars").count() == 2
    assert tab.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    if viewport is PHONE:
        shot(tab, "site-phone-provider.png")
        tab.goto(base)
        shot(tab, "site-phone-home.png")


def test_compare_page_shows_kb_compares_figures(site: tuple[Store, Layout, str]) -> None:
    store, layout, _ = site
    page = BeautifulSoup((layout.site / "compare" / "index.html").read_text(), "html.parser")
    home = layout.build.parent
    providers = sorted(store.provider_names(), key=lambda p: (
        (store.provider_names()[p] or p).lower(), p))
    end = (AS_OF + timedelta(days=1)).isoformat()
    for label in ("30d", "90d", "365d"):
        block = page.select_one(f"#p{label} + .kb-compare")
        assert block is not None
        command = block.select_one("code").get_text()
        assert command == f"kb compare {' '.join(providers)} --period {label} --end {end}"
        cli = kb_json(home, "compare", *providers, "--period", label, "--end", end)
        heads = [th.get_text() for th in block.select("table.kb-compare-table thead th")]
        rows = block.select("table.kb-compare-table tbody tr")
        assert len(rows) == len(cli["providers"]) == len(providers)
        for row, side in zip(rows, cli["providers"], strict=True):
            cells = dict(zip(heads[1:], [td.get_text() for td in row.find_all("td")],
                             strict=True))
            assert row.find("a")["href"].rstrip("/").endswith(f"providers/{side['provider']}")
            assert cells["uptime"] == side["uptime_text"]
            assert cells["incidents"] == (str(side["incidents"]) if side["status"] != "unknown"
                                          else "unknown")
            stated = ", ".join(f"{t['tag']} {t['incidents']}" for t in side["top_causes"])
            assert cells["top stated causes"] in (stated, "none stated", "unknown")
            assert bool(stated) == (cells["top stated causes"] == stated)
        # Co-failure hours: every pair down together is listed with kb compare's hours;
        # the others are counted, unknown apart.
        together = {(p["a"], p["b"]): p["both_down_hours"] for p in cli["pairs"]
                    if p["both_down_hours"]}
        listed = block.select("table.kb-pairs tbody tr")
        assert len(listed) == len(together)
        shown = {tuple(a["href"].rstrip("/").split("/")[-1] for a in tr.select("a")):
                 tr.find_all("td")[1].get_text() for tr in listed}
        assert shown == {k: f"{v:.1f}" for k, v in together.items()}
        unknown = sum(1 for p in cli["pairs"] if p["both_down_hours"] is None)
        assert f"{unknown} pair(s) unknown" in block.get_text()
    # Linked from every provider page.
    github = BeautifulSoup((layout.site / "providers" / "github" / "index.html").read_text(),
                           "html.parser")
    assert github.select_one("a[href$='compare/#p90d']") is not None


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_compare_page_on_screens(open_tab: Any, site: tuple[Store, Layout, str],
                                 viewport: dict[str, int]) -> None:
    _, _, base = site
    tab = open_tab(viewport)
    tab.goto(f"{base}providers/anthropic/")
    tab.locator("a[href$='compare/#p90d']").click()
    tab.wait_for_load_state()
    assert tab.url.endswith("compare/#p90d")
    table = tab.locator("#p90d + .kb-compare table.kb-compare-table")
    assert table.is_visible() and table.locator("tbody tr").count() == 4
    # The wide table scrolls in its own box; the page itself is no wider than the screen.
    assert tab.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    box = tab.locator("#p90d + .kb-compare .kb-table-wrap").first
    if viewport is PHONE:
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")
        # Scrolled sideways, the provider column stays in view.
        name = table.locator("tbody th").first
        before = name.bounding_box()["x"]
        box.evaluate("el => { el.scrollLeft = 300; }")
        assert box.evaluate("el => el.scrollLeft") > 0
        assert abs(name.bounding_box()["x"] - before) < 1
    if viewport is PHONE:
        shot(tab, "site-phone-compare.png")


def test_figure_tables_become_labelled_cards_on_a_phone(
    open_tab: Any, site: tuple[Store, Layout, str],
) -> None:
    _, _, base = site
    phone, desktop = open_tab(PHONE), open_tab(DESKTOP)
    for tab in (phone, desktop):
        tab.goto(f"{base}providers/anthropic/")
    for selector in (".kb-section-reliability table.kb-cards", "table.kb-years"):
        cell = phone.locator(f"{selector} td[data-label]").first
        label = cell.get_attribute("data-label")
        # Each value sits under its column's name, at nearly the screen's width.
        before = cell.evaluate("el => getComputedStyle(el, '::before').content")
        assert before == f'"{label}: "'
        assert cell.bounding_box()["width"] >= 300
        # The header row is left to screen readers (a 1 px clipped box).
        assert phone.locator(f"{selector} thead").first.bounding_box()["height"] <= 1
        # The desktop keeps the table and its header.
        assert desktop.locator(f"{selector} thead th").first.is_visible()
        assert desktop.locator(f"{selector} td[data-label]").first.evaluate(
            "el => getComputedStyle(el).display") == "table-cell"
    # A table's caption keeps the width too (a block table left it one word wide).
    caption = phone.locator(".kb-section-reliability table.kb-cards caption").first
    assert caption.bounding_box()["width"] >= 300
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(phone, "site-phone-provider-figures.png")
    # The providers index too: a card per provider, its bars at the card's width.
    phone.goto(f"{base}providers/")
    table = phone.locator(".kb-providers table.kb-cards")
    assert table.bounding_box()["width"] <= PHONE["width"]
    assert table.locator("svg.kb-bars").first.bounding_box()["width"] >= 300
    assert table.locator("td[data-label='Incidents']").first.evaluate(
        "el => getComputedStyle(el, '::before').content") == '"Incidents: "'



def test_hostile_names_stay_text_in_the_new_views(
    open_tab: Any, site: tuple[Store, Layout, str],
) -> None:
    """The year page's filter values, row attributes and headings, the compare page and the
    stale bars carry third-party strings: shown literally, never run."""
    _, _, base = site
    component = '<b onmouseover="window.__pwned=14">API</b> {{ x }}'
    tab = open_tab(PHONE)
    for path in ("providers/hostile/2026/", "compare/", "", "providers/hostile/"):
        tab.goto(base + path)
        tab.mouse.move(100, 300)
        assert tab.evaluate("typeof window.__pwned") == "undefined", path
        assert tab.locator("article script").count() == 0, path
    tab.goto(f"{base}providers/hostile/2026/")
    assert component in tab.locator("select[name=component] option").all_inner_texts()
    tab.locator("select[name=component]").select_option(component)
    assert tab.locator("tr.kb-facet-row:visible").count() == 1
    assert tab.locator("h1").inner_text().startswith("<script>window.__pwned=12</script>")
    tab.goto(f"{base}compare/")
    assert "<script>window.__pwned=12</script>Hostile Status" in \
        tab.locator("table.kb-compare-table").first.inner_text()
