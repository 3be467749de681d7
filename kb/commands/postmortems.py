"""`kb postmortems`: the published write-ups stored (not `kb postmortem`, which drafts one)."""

from __future__ import annotations

from typing import Annotated

import typer

from kb.commands.common import JsonFlag, check_known, open_store, out, print_json


def register(app: typer.Typer) -> None:
    """Add `kb postmortems` to the app."""
    app.command("postmortems")(list_postmortems)


def list_postmortems(
    provider: Annotated[str | None, typer.Option(help="Only write-ups about this provider.")] = None,  # noqa: E501
    unlinked: Annotated[bool, typer.Option("--unlinked", help="Only those linked to no incident, with the candidates considered.")] = False,  # noqa: E501
    limit: Annotated[int | None, typer.Option(help="At most this many, newest stated start first.")] = None,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """List published postmortems (official write-ups, analyses) with the incidents they are
    linked to, or why they are not. `kb postmortem KEY` drafts one instead.

    Example: kb postmortems --provider aws --unlinked
    """
    from rich.table import Table

    from kb.present import print_table
    from kb.store.postmortems import links, postmortem_to_dict, postmortems

    with open_store() as store:
        check_known(store, [provider])
        docs = postmortems(store, provider=provider)
        linked: dict[str, list[str]] = {}
        for link in links(store):
            linked.setdefault(link.postmortem_id, []).append(
                f"{link.incident_key} ({link.confidence})")
    if unlinked:
        docs = [d for d in docs if d.id not in linked]
    docs = docs[:limit] if limit else docs
    if as_json:
        rows = [{**postmortem_to_dict(d), "incidents": linked.get(d.id, [])} for d in docs]
        print_json(rows)
        return
    table = Table(title=f"Published postmortems ({len(docs)})", title_justify="left")
    for column in ("provider", "stated start", "title", "incidents", "status / why not"):
        table.add_column(column, overflow="fold")
    for doc in docs:
        start = doc.start.strftime("%Y-%m-%d") if doc.start else "not stated"
        why = doc.reason or "; ".join(
            c.get("incident_key", c.get("provider", "")) + ": " + str(c.get("why", ""))
            for c in doc.candidates[:3])
        table.add_row(doc.provider or "-", start, doc.title,
                      "\n".join(linked.get(doc.id, [])) or "none", why or "-")
    print_table(out, table)
