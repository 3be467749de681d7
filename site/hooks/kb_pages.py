"""mkdocs hook (mkdocs.yml `hooks:`): generated pages skip the Markdown parser.

Every page `kb site build` generates is HTML from top to bottom (jinja2 templates with all
values escaped) and says so in its front matter (`kb_html: true`). Python-Markdown would
pass such a page through unchanged, but only after parsing all of its HTML, which is most of
mkdocs' time on a 10,000-incident site. This hook hands the HTML over as the page content
directly and rebuilds the table of contents from the page's own <h2>/<h3 class="kb-h">
headings. Hand-written pages (no flag) go through Markdown as usual.

It also shortens what mkdocs-material's search plugin reads. The templates wrap what the
search index leaves out anyway (pictures, listing tables, provenance: `data-search-exclude`)
or should not hold (sections of figures and links to other incidents, whose titles would
make every neighbour a hit) in `<!--kb:search-skip-->` … `<!--/kb:search-skip-->`. The
plugin's HTML parser (pure Python) costs per tag, skipped tags included, and these regions
were over half of the tags of a page: at 10,000 incidents, about 10 s of the build
(docs/site.md, Speed). The page itself is rendered whole.

Without this hook the site still builds the same pages, only slower, with a noisier index.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.plugins import CombinedEvent, event_priority

_HEADING = re.compile(r'<h([23]) class="kb-h" id="([A-Za-z0-9_-]+)">(.*?)</h\1>')
_STASH = "_kb_html"
SKIP_START, SKIP_END = "<!--kb:search-skip-->", "<!--/kb:search-skip-->"
_SKIP = re.compile(re.escape(SKIP_START) + ".*?" + re.escape(SKIP_END), re.S)
_FULL = "_kb_full_html"
# What material's search plugin removes from page.content after indexing it (plugin.py,
# on_page_context), applied to the whole page that the search view stood in for.
_SEARCH_ATTRS = re.compile(r"\s?data-search-\w+=\"[^\"]+\"")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.meta.get("kb_html") is True:
        setattr(page, _STASH, markdown)
        return ""
    return markdown


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    raw = getattr(page, _STASH, None)
    if raw is None:
        return html
    from mkdocs.structure.toc import get_toc

    tokens: list[dict[str, Any]] = []
    for level, anchor, name in _HEADING.findall(raw):
        token = {"level": int(level), "id": anchor, "name": name, "html": name,
                 "data-toc-label": "", "children": []}
        if level == "3" and tokens:
            tokens[-1]["children"].append(token)
        else:
            tokens.append(token)
    page.toc = get_toc(tokens)
    delattr(page, _STASH)
    return raw


@event_priority(50)  # before material/search (priority 0) indexes page.content
def _search_view(context: Any, page: Any, config: Any, nav: Any) -> Any:
    content = page.content or ""
    if page.meta.get("kb_html") is True and SKIP_START in content:
        setattr(page, _FULL, content)
        page.content = _SKIP.sub("", content)
    return context


@event_priority(-50)  # after it: the theme renders the whole page
def _whole_page(context: Any, page: Any, config: Any, nav: Any) -> Any:
    full = getattr(page, _FULL, None)
    if full is not None:
        delattr(page, _FULL)
        search = config.plugins.get("material/search")
        enabled = search is not None and search.config.enabled
        whole = full.replace(SKIP_START, "").replace(SKIP_END, "")
        page.content = _SEARCH_ATTRS.sub("", whole) if enabled else whole
    return context


on_page_context = CombinedEvent(_search_view, _whole_page)
