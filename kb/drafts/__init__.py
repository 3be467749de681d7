"""Postmortem drafts from public data, with citations (`kb postmortem PROVIDER/ID`).

    draft = build_draft(store, "github/zjchv3zvfg50")     # typed, cited draft context
    check_draft(store, draft)                              # [] when every citation resolves
    render_draft(draft, "sre", "md")                       # or atlassian, pagerduty, a path

Modules: citations (footnotes, checks), prose (the provider's own cause/resolution
sentences), postmortem (gathering and minutes), mitigations (customer-side suggestions),
adapters (optional sections of other features), render (jinja2, Markdown/HTML/JSON), polish
(optional language-model rewrite of summary and lessons, citations verified).
"""

from kb.drafts.draft import Draft
from kb.drafts.postmortem import build_draft, check_draft, draft_from_incident
from kb.drafts.render import render_draft

__all__ = ["Draft", "build_draft", "check_draft", "draft_from_incident", "render_draft"]
