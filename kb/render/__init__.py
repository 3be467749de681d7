"""The static site: the knowledge base rendered into Markdown pages (jinja2, templates under
site/templates), feeds and an export, then built into HTML with mkdocs-material.

Modules: `safe` (the sanitising layer every scraped string passes), `svg` (timeline pictures,
90-day bars), `feeds` (Atom), `sections` (the extension point other features fill),
`pages` (the jinja2 environment), `site` (database → docs folder), `build` (docs → HTML with
mkdocs), `serve` (a local preview), `stage` (the `site` stage of `kb update`).

Nothing heavy is imported here: `kb --help` stays instant.
"""
