"""Optional sections fed by other features: community signals, similar incidents, cause tags,
reliability figures and the fallback comparison.

The adapters are the functions of kb.drafts.integrations, listed by name in ADAPTERS; each
imports its feature inside, and runs inside a guard. When the feature's module or its data is
not there, the section says "not available yet" (and why, in words without figures) instead
of inventing anything; a feature that fails while reading is reported the same way, so an
optional section can never break a draft. Every fact an adapter returns is cited: signals by
their thread or article, computed figures by the stored incidents they were computed from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kb.drafts import integrations
from kb.drafts.citations import Citations
from kb.drafts.draft import Extra
from kb.errors import exception_line
from kb.model import Incident

if TYPE_CHECKING:
    from kb.store.repo import Store

__all__ = ["ADAPTERS", "absent", "collect", "signal_exists"]

TITLES = {
    "signals": "Community signals",
    "user_reports": "What users reported",
    "similar": "Similar past incidents",
    "cause_tags": "Cause tags",
    "reliability": "Recent reliability of the provider",
    "fallback": "Fallback provider overlap",
}

Adapter = Callable[["Store", Incident, Citations], Extra]


def absent(name: str, why: str) -> Extra:
    """The section `name`, marked not available yet, with the reason in words."""
    return Extra(name, TITLES[name], False, f"not available yet ({why})")


def _one_line(exc: BaseException) -> str:
    text = exception_line(exc, None)
    return "".join(ch for ch in text if not ch.isdigit())[:160]


# The draft's optional sections, in order; a new one is a function in kb.drafts.integrations,
# its title in TITLES and a line here.
ADAPTERS: dict[str, Adapter] = {
    "signals": integrations.signals,
    "user_reports": integrations.user_reports,
    "similar": integrations.similar,
    "cause_tags": integrations.cause_tags,
    "reliability": integrations.reliability,
    "fallback": integrations.fallback,
}


def collect(
    store: Store, incident: Incident, cite: Citations, *, only: dict[str, Adapter] | None = None
) -> dict[str, Extra]:
    """Run every adapter; an adapter that raises yields an unavailable section, one line."""
    found: dict[str, Extra] = {
        name: absent(name, "not requested") for name in ADAPTERS
        if only is not None and name not in only
    }
    for name, adapter in (ADAPTERS if only is None else only).items():
        try:
            found[name] = adapter(store, incident, cite)
        except ImportError as exc:
            found[name] = absent(name, f"module missing: {_one_line(exc)}")
        except Exception as exc:  # an optional section must never break a draft
            found[name] = absent(name, f"could not be read: {_one_line(exc)}")
    return found


def signal_exists(store: Store) -> Callable[[tuple[str, ...]], bool]:
    """A check that signal ids are stored (always False where kb.signals is absent)."""

    def check(refs: tuple[str, ...]) -> bool:
        try:
            from kb.store.signals import signals
        except ImportError:
            return False
        try:
            held = {s.id for s in signals(store, ids=list(refs))}
        except Exception:  # no signal tables in this database: nothing is stored there
            return False
        return bool(refs) and set(refs) <= held

    return check


def postmortem_exists(store: Store) -> Callable[[tuple[str, ...]], bool]:
    """A check that postmortem documents are stored (False where the tables are absent)."""

    def check(refs: tuple[str, ...]) -> bool:
        try:
            from kb.store.postmortems import postmortems

            held = {d.id for d in postmortems(store, ids=list(refs))}
        except Exception:  # no postmortem tables in this database
            return False
        return bool(refs) and set(refs) <= held

    return check


def cause_tag_names(extras: dict[str, Any]) -> list[str]:
    """The tag names of the cause_tags section (each fact's lead starts with its tag)."""
    extra = extras.get("cause_tags")
    if not isinstance(extra, Extra) or not extra.available:
        return []
    return [f.lead.split(" ", 1)[0] for f in extra.facts if f.lead]
