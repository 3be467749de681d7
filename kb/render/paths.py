"""Where every generated page lives, and the relative links between pages.

Files are written under the docs folder; with `use_directory_urls`, mkdocs serves
`incidents/github/zzm4nczlpjyy.md` at /incidents/github/zzm4nczlpjyy/. Links between
generated pages are written as relative URLs inside raw HTML (mkdocs does not rewrite those),
computed here so they work under any site prefix, from a sub-path or on a plain file server.
"""

from __future__ import annotations

from kb.render.safe import path_segment


def incident_doc(provider: str, native_id: str) -> str:
    """The permalink page: /incidents/<provider>/<id>/."""
    return f"incidents/{path_segment(provider)}/{path_segment(native_id)}.md"


def provider_doc(provider: str) -> str:
    return f"providers/{path_segment(provider)}.md"


def provider_year_doc(provider: str, year: int) -> str:
    """A provider's incidents of one year: /providers/<provider>/<yyyy>/."""
    return f"providers/{path_segment(provider)}/{year}.md"


def component_doc(provider: str, component: str) -> str:
    return f"components/{path_segment(provider)}/{path_segment(component)}.md"


def year_doc(year: int) -> str:
    return f"years/{year}.md"


def feed_file(provider: str | None) -> str:
    return f"feeds/{path_segment(provider) if provider else 'all'}.atom"


def collection_doc(name: str, slug: str | None = None) -> str:
    """A feature's page (kb.render.sections.Collection), or the collection's index."""
    folder = path_segment(name)
    return f"{folder}/index.md" if slug is None else f"{folder}/{path_segment(slug)}.md"


EXPORT_FILE = "data/incidents.jsonl"


def url_of(doc: str) -> str:
    """The site-relative URL of a docs file: `a/b.md` → `a/b/`, `a/index.md` → `a/`,
    any other file → itself."""
    if not doc.endswith(".md"):
        return doc
    stem = doc[: -len(".md")]
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def root_of(doc: str) -> str:
    """The relative prefix from a page's URL back to the site root ("" for the home page)."""
    depth = url_of(doc).count("/")
    return "../" * depth


def link(from_doc: str, to_doc: str) -> str:
    """A relative URL from the page of `from_doc` to the page or file `to_doc`."""
    return (root_of(from_doc) + url_of(to_doc)) or "./"
