"""Which network addresses a URL taken from third-party content may reach (SSRF guard).

A link inside a news feed, a Hacker News story or a status payload is written by someone
else; fetching it must never reach this machine, its network or a cloud metadata service
(169.254.169.254 answers credentials to whoever asks). `Fetcher(untrusted=True)` resolves each
host itself, checks *every* address it resolves to with `refusal`, connects to the address it
checked (so a DNS answer that changes between check and connect cannot slip through), and
follows redirects by hand, checking each hop the same way.

What the user configured (sources.toml pages, feeds listed there, KB_LLM_URL, alert targets)
is trusted as configured, loopback included: those requests use a trusted Fetcher.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

__all__ = ["AddressCheck", "Resolver", "refusal", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], str | None]  # None: allowed, else why not
Resolver = Callable[[str, int], list[str]]  # host, port → addresses (text)

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits


def refusal(address: IPAddress) -> str | None:
    """Why `address` is no public internet address (None when it is one).

    IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d, 6to4 2002::/16, NAT64
    64:ff9b::/96) are judged by the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address (cloud metadata lives there)"
    if address in _SHARED if address.version == 4 else False:
        return "shared (carrier-grade NAT) address"
    if address.is_multicast:
        return "multicast address"
    if address.is_private:
        return "private address"
    if address.is_reserved or not address.is_global:
        return "reserved address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
