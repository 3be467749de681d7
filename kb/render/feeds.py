"""The knowledge base's own Atom feeds: one for all incidents, one per provider.

Written with ElementTree (stdlib), which escapes every text node; text is first passed
through `clean_text`, which also drops the control characters XML 1.0 forbids. Output is a
pure function of the incidents (no "now"), so an unchanged feed is byte-identical and is not
rewritten.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from kb.model import Incident
from kb.render.safe import clean_text, clip, one_line, safe_href
from kb.serialize import stamp

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50  # the newest incidents a feed carries
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PagePath = Callable[[Incident], str]  # an incident → its page's URL relative to the feed


def last_activity(incident: Incident) -> datetime:
    """When the incident last changed as published: its latest update or lifecycle time."""
    life = incident.lifecycle
    points = [u.at for u in incident.updates]
    points += [p for p in (life.first_post_at, life.resolved_at) if p]
    return max(points) if points else _EPOCH


def feed_id(name: str) -> str:
    return f"urn:outage-kb:feed:{quote(name, safe='')}"


def atom(
    incidents: Iterable[Incident],
    *,
    name: str,
    title: str,
    page_url: str,
    page_path: PagePath,
) -> bytes:
    """An Atom document of the newest `ENTRIES` incidents (by last activity).

    `page_url` is the feed's own HTML page relative to the feed file; `page_path(incident)`
    gives an incident page's URL relative to the feed file."""
    ET.register_namespace("", ATOM)
    chosen = sorted(incidents, key=lambda i: (last_activity(i), i.key), reverse=True)[:ENTRIES]
    root = ET.Element(f"{{{ATOM}}}feed")
    _text(root, "id", feed_id(name))
    _text(root, "title", one_line(title, 200))
    updated = max((last_activity(i) for i in chosen), default=_EPOCH)
    _text(root, "updated", stamp(updated) or "")
    ET.SubElement(root, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=page_url)
    _text(root, "generator", "outage-kb")
    for incident in chosen:
        root.append(_entry(incident, page_path(incident)))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _entry(incident: Incident, href: str) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", f"urn:outage-kb:incident:{quote(incident.key, safe='/')}")
    _text(entry, "title", f"[{incident.provider}] {one_line(incident.title, 300)}")
    _text(entry, "updated", stamp(last_activity(incident)) or "")
    if incident.lifecycle.first_post_at:
        _text(entry, "published", stamp(incident.lifecycle.first_post_at) or "")
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=href)
    official = safe_href(incident.url)
    if official:
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="via", type="text/html", href=official)
    author = ET.SubElement(entry, f"{{{ATOM}}}author")
    _text(author, "name", incident.provider)
    for component in incident.components[:20]:
        ET.SubElement(entry, f"{{{ATOM}}}category", term=one_line(component.name, 100))
    lines = [
        f"{incident.kind.value} · severity {incident.stated_severity} · status "
        f"{one_line(incident.status, 60)}"
    ]
    if incident.updates:
        latest = incident.updates[-1]
        lines.append(f"{stamp(latest.at)} {latest.phase.value}: {clip(latest.text, 2000)}")
    summary = ET.SubElement(entry, f"{{{ATOM}}}summary", type="text")
    summary.text = clean_text("\n".join(lines))
    return entry


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = clean_text(value)
    return element

