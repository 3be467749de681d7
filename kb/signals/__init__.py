"""Signals: news and forum threads about outages, linked to the incidents they concern.

- `config`: what to look for (names, products, domains per provider) and where (feeds);
- `kinds`, `match`, `dedupe`, `stories`: reading items into stories;
- `link`, `unofficial`: stories ↔ incidents, and outages no official post covers;
- `stage`: the `link` stage of `kb update` and `kb link`;
- `figures`: per-incident figures (first signal, detection lead, threads, points, comments);
- `fetch`: `kb signals fetch` (Hacker News, news feeds and articles, reddit).

This package imports nothing heavy at import time; `kb --help` stays instant.
"""
