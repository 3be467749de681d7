"""The "Postmortem draft" slot of incident pages (kb.render.sections, order 60).

The site's section API hands blocks to its own templates and cannot add pages, so this slot
shows what a draft would start from (the stated impact window against the first post, the
lifecycle, whether a cause is stated) and the command that writes the full cited draft.
It is cheap (no store query, a regex pass over the updates): `provide` runs once per incident
page per build.
"""

from __future__ import annotations

from kb.drafts import prose
from kb.drafts.postmortem import minutes, span
from kb.model import Incident, Kind, Phase
from kb.render.sections import Figures, Section, Text

__all__ = ["SECTIONS", "preview"]


def preview(_state: object, incident: Incident) -> list[Figures | Text] | None:
    """Figures a draft would open with, and how to make the draft; None for maintenances."""
    if incident.kind is not Kind.INCIDENT or not incident.updates:
        return None
    updates = incident.updates
    first = updates[0].at
    pairs: list[tuple[str, str]] = []
    window = incident.impact_window
    if window is not None:
        if window.end is not None:
            pairs.append(("stated impact", f"{window.start:%H:%M}–{window.end:%H:%M} UTC, "
                                           f"{span(minutes(window.start, window.end))}"))
        lag = minutes(window.start, first)
        pairs.append(("first post", f"{abs(lag)} min {'after' if lag >= 0 else 'before'} the "
                                    "stated impact start"))
    resolved = next((u.at for u in updates if u.phase in (Phase.RESOLVED, Phase.COMPLETED)),
                    None)
    if resolved is not None:
        pairs.append(("first post → resolved", span(minutes(first, resolved))))
    pairs.append(("stated cause", "quoted in the draft" if prose.causes(updates, limit=1)
                  else "not disclosed by the provider"))
    command = (f"kb postmortem {incident.key} --template sre   "
               "(or atlassian, pagerduty, your own jinja2 file; --format md, html or json)")
    return [Figures(pairs, caption="What a postmortem draft starts from"),
            Text("Every sentence of the draft carries a footnote to the status update or "
                 f"stored payload it comes from. Write it with:\n{command}")]


SECTIONS = [
    Section(
        name="postmortem", title="Postmortem draft", provide=preview, order=60,
        note="A starting point for your own postmortem, from the public record only.",
    ),
]
