"""Which of this KB's providers a postmortem is about, from the company and product it names.

Lists name companies ("Amazon", "Google", "Microsoft") where this KB follows status pages
("aws", "google-cloud", "google-workspace", "azure"); a company with several pages needs its
product to say which. Evidence, strongest first:
1. the write-up's URL is one of the provider's status pages (status.cloud.google.com);
2. a company rule below (company, and for several-page companies a product word);
3. the provider's names or products (sources.toml's [signals.match] terms, kb.signals.match)
   in "company product";
4. for a write-up naming no company (a page fetched by URL without a site name), its host
   is one of the provider's own sites (sources.toml's `domains`; not github.com, where
   anyone publishes);
A company this KB does not follow maps to no provider: the postmortem stays browsable on its
own. A several-page company whose product names none of its pages maps to none either, with
the reason (never a guess).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kb.signals.config import ProviderTerms
from kb.signals.match import host_of, match_providers

# company (lower-case) → [(product words regex, provider)], first match wins; a rule with
# product None applies whatever the product says.
_SEVERAL = {
    "google": [
        (r"\b(cloud|compute engine|gce|gke|kubernetes engine|bigquery|persistent disk|"
         r"load balanc\w*|filestore|vmware engine|service control|cloud networking|"
         r"app engine|cloud storage|cloud sql|spanner)\b", "google-cloud"),
        (r"\b(gmail|calendar|docs|documents|drive|meet|workspace|google\+|chat|hangouts)\b",
         "google-workspace"),
    ],
    "microsoft": [(r"\b(azure)\b", "azure")],
    "atlassian": [
        (r"\b(jira)\b", "atlassian-jira"),
        (r"\b(confluence)\b", "atlassian-confluence"),
        (r"\b(bitbucket)\b", "bitbucket"),
        (r"\b(statuspage)\b", "atlassian-statuspage"),
    ],
}
_ONE = {"amazon": "aws", "aws": "aws", "amazon web services": "aws"}
# Hosts where anyone publishes (a repository's postmortem on github.com is not GitHub's).
_SHARED_HOSTS = frozenset({"github.com", "gist.github.com"})
# Hosts that say the provider by themselves (status pages the lists link to directly).
_HOSTS = {"status.cloud.google.com": "google-cloud", "cloud.google.com": "google-cloud",
          "aws.amazon.com": "aws", "status.aws.amazon.com": "aws"}


@dataclass(frozen=True)
class Mapping:
    """The providers a postmortem maps to ((), when none), and how."""

    providers: tuple[str, ...]
    evidence: str  # "company 'Amazon'", "status page host status.cloud.google.com", ...


def map_provider(company: str | None, products: Sequence[str], url: str, text: str,
                 terms: Sequence[ProviderTerms]) -> Mapping:
    """The KB providers a postmortem is about (see the module docstring)."""
    known = {t.slug for t in terms}
    host = host_of(url)
    for suffix, slug in _HOSTS.items():
        if (host == suffix or host.endswith("." + suffix)) and slug in known:
            if slug == "google-cloud" and "appsstatus" in url:
                continue
            return Mapping((slug,), f"write-up host {host}")
    if "google.com" in host and "/appsstatus/" in url and "google-workspace" in known:
        return Mapping(("google-workspace",), f"write-up on the Workspace status page {host}")
    name = " ".join((company or "").lower().split())
    product_text = " ".join(products).lower()
    if name in _ONE and _ONE[name] in known:
        return Mapping((_ONE[name],), f"company {company!r}")
    if name in _SEVERAL:
        found = [slug for pattern, slug in _SEVERAL[name]
                 if slug in known and re.search(pattern, product_text)]
        if not found and not product_text:  # no product: the summary may say which
            found = [slug for pattern, slug in _SEVERAL[name]
                     if slug in known and re.search(pattern, text[:600].lower())]
            how = "text"
        else:
            how = "product"
        if found:
            return Mapping(tuple(dict.fromkeys(found)),
                           f"company {company!r}, {how} names " + ", ".join(found))
        return Mapping((), f"company {company!r} has several pages here and its product "
                           f"{(', '.join(products) or 'none')!r} names none of them")
    for t in terms:  # the write-up is on a status page itself (exact host: google.com's
        # Workspace page must not claim every docs.google.com document)
        if host and host in {h.removeprefix("www.") for h in t.status_hosts}:
            return Mapping((t.slug,), f"write-up on the status page host {host}")
    matches = match_providers(" ".join(filter(None, (company, *products))), [], "", terms)
    strong = [m for m in matches if m.strong]
    if strong:
        return Mapping(tuple(m.provider for m in strong),
                       "; ".join(f"{m.where} names {m.alias!r}" for m in strong))
    if company is None and host not in _SHARED_HOSTS:  # a page naming no company: its site
        for t in terms:  # (sources.toml's domains) says whose write-up it is
            if host and any(host == d or host.endswith("." + d) for d in t.domains):
                return Mapping((t.slug,), f"write-up on the provider's own site {host}")
    return Mapping((), f"company {company or 'unnamed'!r} is not a provider this KB follows")
