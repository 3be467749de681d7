"""What `kb show` and the site say about an incident's published postmortems."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from kb.present import print_table
from kb.store.postmortems import (
    Postmortem,
    PostmortemLink,
    links,
    postmortem_to_dict,
    postmortems,
)
from kb.store.repo import Store


def incident_postmortems(store: Store, key: str) -> list[tuple[Postmortem, PostmortemLink]]:
    """The postmortems linked to incident `key`, best link first."""
    found = links(store, incident_key=key)
    by_id = {d.id: d for d in postmortems(store, ids=[k.postmortem_id for k in found])}
    return [(by_id[k.postmortem_id], k) for k in found if k.postmortem_id in by_id]


def postmortems_json(linked: list[tuple[Postmortem, PostmortemLink]]) -> dict[str, Any]:
    """The key `kb show --json` gains: "postmortems" (the documents with their link)."""
    items = []
    for doc, link in linked:
        data = postmortem_to_dict(doc)
        data.pop("text", None)  # the whole write-up is `kb postmortems --json`'s, not show's
        data.pop("candidates", None)
        data.update({"score": link.score, "confidence": link.confidence, "rule": link.rule,
                     "evidence": link.evidence})
        items.append(data)
    return {"postmortems": items}


def print_postmortems(console: Console, linked: list[tuple[Postmortem, PostmortemLink]]) -> None:
    """The postmortems table of `kb show`; nothing when none is linked."""
    if not linked:
        return
    table = Table(title="Published postmortems", title_justify="left")
    for column in ("title", "stated start", "confidence", "why", "url"):
        table.add_column(column, overflow="fold")
    for doc, link in linked:
        start = doc.start.strftime("%Y-%m-%d %H:%M") if doc.start else "not stated"
        table.add_row(doc.title, start, link.confidence, str(link.evidence.get("why", "")),
                      doc.url)
    print_table(console, table)
