"""What a reader's browser gets from a built site: bytes of a first visit, page heights and
HTML sizes at a phone's width (390 px) and a desktop's (1280 px).

Usage: python bench/site_screens.py SITE_DIR [--provider github] [--json FILE] [--no-gzip]

SITE_DIR is a built site (`kb site build`'s <build>/site, e.g. $KB_HOME/build/site). It is
served by `kb site serve`'s server (kb.render.serve: gzip for text files) on 127.0.0.1 and
opened in Debian's chromium (/usr/bin/chromium via Playwright; every request off 127.0.0.1
is aborted). For the home page, the provider's page, its largest year page, its longest
incident page (most updates) and the comparison page, each in a fresh browser context
(empty cache): the bytes transferred on a first visit (headers + bodies as sent, so
compressed where the server compressed) until the network is idle, whether the search
index was among them, the page height at 390 and 1280 px, and the HTML size on disk.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.render.serve import serve_in_thread  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]
WIDTHS = (390, 1280)


def longest_incident(site: Path, provider: str) -> str | None:
    """The provider's incident page with the most timeline rows."""
    best, rows = None, -1
    for page in (site / "incidents" / provider).glob("*/index.html"):
        count = page.read_text(errors="replace").count('<tr class="kb-update">')
        if count > rows:
            best, rows = page.parent.relative_to(site).as_posix() + "/", count
    return best


def largest_year(site: Path, provider: str) -> str | None:
    """The provider's year page listing the most incidents."""
    folder = site / "providers" / provider
    years = [p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}", p.name)] \
        if folder.is_dir() else []
    if not years:
        return None
    best = max(years, key=lambda p: (p / "index.html").read_text(errors="replace")
               .count("kb-facet-row"))
    return f"providers/{provider}/{best.name}/"


def visit(browser: Any, base: str, path: str, width: int, plain: bool) -> dict[str, Any]:
    headers = {"Accept-Encoding": "identity"} if plain else {}
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers=headers)
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                  else r.abort())
    tab = context.new_page()
    responses: list[Any] = []
    tab.on("response", lambda r: responses.append(r))
    tab.goto(base + path, wait_until="networkidle")
    tab.wait_for_timeout(2000)  # the theme asks for the search index late, after its bundle ran
    sent = {}
    for response in responses:
        sizes = response.request.sizes()
        sent[response.url] = sizes["responseBodySize"] + sizes["responseHeadersSize"]
    height = tab.evaluate("document.documentElement.scrollHeight")
    wide = tab.evaluate("document.documentElement.scrollWidth")
    context.close()
    return {"bytes": sum(sent.values()), "requests": len(sent), "height_px": height,
            "scroll_width_px": wide,
            "search_index_loaded": any("search_index" in u for u in sent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--provider", default="github")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-gzip", action="store_true",
                        help="ask for uncompressed responses (a plain static file server)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    site: Path = args.site
    pages = {"home": "", "provider": f"providers/{args.provider}/",
             "provider year (largest)": largest_year(site, args.provider),
             "incident (longest)": longest_incident(site, args.provider),
             "compare": "compare/"}
    index = site / "search" / "search_index.json"
    result: dict[str, Any] = {
        "site": str(site),
        "search_index_bytes": index.stat().st_size if index.is_file() else None,
        "search_index_gzip_bytes": len(gzip.compress(index.read_bytes(), 6))
        if index.is_file() else None,
        "pages": {},
    }
    server, base = serve_in_thread(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, path in pages.items():
                if path is None or not (site / path / "index.html").is_file():
                    continue
                row: dict[str, Any] = {
                    "path": path, "html_bytes": (site / path / "index.html").stat().st_size}
                for width in WIDTHS:
                    row[f"{width}px"] = visit(browser, base, path, width, args.no_gzip)
                result["pages"][name] = row
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"search index: {result['search_index_bytes']:,} B "
          f"({result['search_index_gzip_bytes']:,} B gzip), loaded on the first search")
    print("| page | HTML on disk | first visit, 390 px | first visit, 1280 px | height 390 px "
          "| height 1280 px | index loaded |")
    print("|---|---|---|---|---|---|---|")
    for name, row in result["pages"].items():
        phone, desk = row["390px"], row["1280px"]
        loaded = phone["search_index_loaded"] or desk["search_index_loaded"]
        print(f"| {name} (`/{row['path']}`) | {row['html_bytes'] / 1024:,.0f} KB "
              f"| {phone['bytes'] / 1024:,.0f} KB | {desk['bytes'] / 1024:,.0f} KB "
              f"| {phone['height_px']:,} px | {desk['height_px']:,} px "
              f"| {'yes' if loaded else 'no'} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
