"""`kb site build` and `kb site serve`: the static site people browse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kb.commands.common import err, open_store, parse_date, print_json, progress_bar
from kb.commands.common import out as stdout

site_app = typer.Typer(
    help="The static site: render the knowledge base with mkdocs-material, serve it locally.",
    no_args_is_help=True,
)

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="mkdocs.yml (default: ./mkdocs.yml, else the repository's).")]
OutOption = Annotated[Path | None, typer.Option(
    "--out", help="Build folder (default: $KB_SITE_DIR, else build/ in the KB home).")]


@site_app.command("build")
def build(
    config: ConfigOption = None,
    out: OutOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last day of the 90-day bars, YYYY-MM-DD (default: today, UTC).")] = None,  # noqa: E501
    force: Annotated[bool, typer.Option("--force", help="Run mkdocs even when no page changed.")] = False,  # noqa: E501
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a line.")] = False,
) -> None:
    """Render the database into Markdown pages ($KB_HOME/build/docs), then build the HTML
    site ($KB_HOME/build/site) with mkdocs-material. Unchanged pages are not rewritten; when nothing
    changed, mkdocs is skipped.

    Example: kb site build && kb site serve
    """
    from kb.config import load_settings
    from kb.render.build import build_site, find_layout

    day = parse_date(as_of, "--as-of")
    layout = find_layout(config, out, home=load_settings().home)
    with open_store() as store, progress_bar("site pages") as bar:
        report = build_site(store, layout, as_of=day.date() if day else None, force=force,
                            progress=bar)
    rendered = report.render
    for line in rendered.failures:
        err.print(f"warning: {line}", markup=False)
    for line in report.warnings:
        err.print(f"warning: mkdocs: {line}", markup=False)
    if as_json:
        print_json({
            "incidents": rendered.incidents, "pages": rendered.pages,
            "written": len(rendered.written), "unchanged": rendered.unchanged,
            "removed": len(rendered.removed), "render_seconds": round(rendered.seconds, 3),
            "mkdocs_ran": report.built, "mkdocs_seconds": round(report.mkdocs_seconds, 3),
            "mkdocs_changed_pages_only": report.incremental,
            "sections": rendered.sections, "site": str(layout.site),
        })
        return
    built = (f"mkdocs {report.mkdocs_seconds:.1f} s"
             + (" (changed pages only)" if report.incremental else "") if report.built
             else "mkdocs skipped (nothing changed)")
    stdout.print(
        f"kb: site: {rendered.incidents} incidents, {rendered.pages} pages "
        f"({len(rendered.written)} files written, {rendered.unchanged} unchanged, "
        f"{len(rendered.removed)} removed) in {rendered.seconds:.1f} s; {built} → {layout.site}",
        markup=False,
    )


@site_app.command("serve")
def serve(
    config: ConfigOption = None,
    out: OutOption = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8000,
) -> None:
    """Serve the built site on http://127.0.0.1:PORT/ until Ctrl-C (build it first).

    Example: kb site serve --port 8000
    """
    from kb.config import load_settings
    from kb.render.build import find_layout
    from kb.render.serve import make_server

    layout = find_layout(config, out, home=load_settings().home)
    server = make_server(layout.site, port)
    host, bound = server.server_address[:2]
    stdout.print(f"kb: serving {layout.site} on http://{host}:{bound}/ (Ctrl-C stops)",
                 markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("kb: stopped")
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add the `site` command group to the kb app."""
    app.add_typer(site_app, name="site")
