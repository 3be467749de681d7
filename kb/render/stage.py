"""The `site` stage of `kb update`: rebuild the site after the store stage.

Idempotent and cheap when nothing changed: pages whose bytes are the same are not
rewritten, and mkdocs runs only when something it reads changed, and then only on the pages
that changed (kb.render.build.run_mkdocs_pages; a full pass when mkdocs.yml or the theme
changed).

The changed path: when `context.report.changed` holds incident keys (the store stage of
`kb update`, or a `kb watch` round, stored new or updated incidents), the stage hands them
to `build_site(changed=...)` by itself, and only the pages those incidents affect are
rendered and built: their incident pages, their providers' pages, the home page with its
"ongoing" section, the index pages and feeds listing them, the export, their search
entries (docs/site.md, "Incremental builds"). Callers need do nothing more. It falls back
to the full render where that is not safe (no complete earlier build, another theme, more
than kb.render.site.SCOPED_MAX keys, a key no longer stored). With no changed keys the
render is the full one, which also refreshes what changed-keys builds leave alone
(other incidents' similar lists, the cause and compare pages).

Where the site cannot be built at all (no mkdocs.yml beside an installed package, mkdocs not
installed) the stage says so in one note and the run goes on: the site is an optional
product of the knowledge base.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from kb.errors import ConfigError

if TYPE_CHECKING:
    from kb.stage import StageContext


def site_stage(context: StageContext) -> str | None:
    """Render and build the site into the build folder ($KB_SITE_DIR, else build/ in the
    KB home); returns a one-line note."""
    from kb.render.build import build_site, find_layout

    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        return "skipped: mkdocs-material is not installed (pip install 'mkdocs-material>=9.7,<10')"
    try:
        layout = find_layout(home=context.settings.home)
    except ConfigError as exc:
        return f"skipped: {exc}"
    report = build_site(context.store, layout, changed=context.report.changed or None)
    rendered = report.render
    for line in rendered.failures:
        context.report.source("stage:site").warnings.append(line)
    built = f"mkdocs {report.mkdocs_seconds:.1f} s" if report.built else "site unchanged"
    if rendered.scoped:
        return (f"{len(context.report.changed)} changed incidents: {rendered.pages} pages "
                f"rendered, {len(rendered.written)} files written; {built}; in {layout.site}")
    return (f"{rendered.pages} pages, {len(rendered.written)} files written, "
            f"{len(rendered.removed)} removed; {built}; in {layout.site}")
