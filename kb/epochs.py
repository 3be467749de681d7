"""When each provider began: the earliest date one of its status records can carry.

The table is kb/data/provider_epochs.toml (approximate, deliberately early; its header says
how the dates were chosen). The import line (kb.pipeline) applies it through
scrapers.plausible.screen_before once it knows whose payload it reads, so an incident or
update dated before its provider existed is dropped with a warning per record, never counted.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

# Product data shipped inside the package, not a setting (no home or variable changes it), so
# it is read here rather than by kb.config.
EPOCHS = Path(__file__).resolve().parent / "data" / "provider_epochs.toml"


@dataclass(frozen=True, slots=True)
class Epoch:
    """A provider's earliest plausible date, and what that date is."""

    since: datetime
    note: str

    def why(self, slug: str) -> str:
        """The floor in words, for a warning: "github began (about 2008-02: GitHub public
        beta ...)"."""
        return f"{slug} began (about {self.since:%Y-%m}: {self.note})"


@cache
def epochs(path: Path = EPOCHS) -> dict[str, Epoch]:
    """slug → Epoch, from the packaged table."""
    with path.open("rb") as fh:
        table = tomllib.load(fh).get("epochs", {})
    out: dict[str, Epoch] = {}
    for slug, row in table.items():
        since = row["since"]
        if not isinstance(since, date):
            raise ValueError(f"{path}: {slug}: since must be a date, not {since!r}")
        out[slug] = Epoch(datetime(since.year, since.month, since.day, tzinfo=UTC),
                          str(row.get("note", "")))
    return out


def epoch_of(slug: str) -> Epoch | None:
    """The provider's floor, or None when the table does not know it (then only the general
    1990 floor of scrapers.plausible applies)."""
    return epochs().get(slug)
