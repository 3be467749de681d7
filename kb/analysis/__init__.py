"""Analysis of stored timelines: causes, reliability figures, clusters, provider comparison.

Modules, one concept each (docs/analysis.md explains every definition):

* `intervals`: unions, clipping, weighted downtime on aware datetimes.
* `metrics`: per-incident figures (impact interval and its source, weights, delays).
* `coverage`: which time the KB holds data for, from the stored payloads.
* `periods`: rolling windows, calendar months and years.
* `reliability`: per provider/component/period counts, medians, p90, uptime and nines.
* `causes`: the contributing-factor taxonomy and its rules; `similar`: the optional
  embedding step; `stage`: tagging, storing, and the `kb update` stage.
* `clusters`: cross-provider clusters and same-vendor duplicates.
* `compare`: providers side by side and the hours they were down together.
* `dataset`, `report`: loading from a store; tables and JSON for the CLI.

Everything reads through the Store API and kb.store.analysis; nothing here speaks SQL.
"""
