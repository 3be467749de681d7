"""The project's few documented exceptions. The CLI turns each into a one-line message.

| exception          | exit code | meaning                                                    |
|--------------------|-----------|------------------------------------------------------------|
| KbError            | 1         | base class                                                 |
| ConfigError        | 2         | a setting or sources.toml entry is missing or invalid      |
| NotFound           | 3         | the incident, provider or file asked for does not exist    |
| SchemaError        | 4         | the database schema is newer than this program, or unusable|
| SourceFailed       | 5         | one or more sources failed; the others completed           |
| DatabaseBusy       | 6         | another process holds the write lock                       |
"""

from __future__ import annotations


def exception_line(exc: BaseException, limit: int | None = 300) -> str:
    """What `exc` says as one line of at most `limit` characters (its type's name when it
    says nothing): the form of a failure in a build's or a run's list of failures."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


class KbError(Exception):
    exit_code = 1


class ConfigError(KbError):
    exit_code = 2


class NotFound(KbError):
    exit_code = 3


class SchemaError(KbError):
    exit_code = 4


class SourceFailed(KbError):
    exit_code = 5


class DatabaseBusy(KbError):
    exit_code = 6
