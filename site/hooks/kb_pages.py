"""mkdocs hook (mkdocs.yml `hooks:`): generated pages skip the Markdown parser.

Every page `kb site build` generates is HTML from top to bottom (jinja2 templates with all
values escaped) and says so in its front matter (`kb_html: true`). Python-Markdown would
pass such a page through unchanged, but only after parsing all of its HTML, which is most of
mkdocs' time on a 10,000-incident site. This hook hands the HTML over as the page content
directly and rebuilds the table of contents from the page's own <h2>/<h3 class="kb-h">
headings. Hand-written pages (no flag) go through Markdown as usual.

Without this hook the site still builds the same pages, only slower.
"""

from __future__ import annotations

import re
from typing import Any

_HEADING = re.compile(r'<h([23]) class="kb-h" id="([A-Za-z0-9_-]+)">(.*?)</h\1>')
_STASH = "_kb_html"


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
