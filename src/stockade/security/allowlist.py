"""The IP allowlist, applied to the real client address.

The real address is the TCP peer, unless the peer is a configured trusted proxy: then the
``X-Forwarded-For`` chain is read from the right, skipping trusted proxies, and the first
address that is not one is the client. A client cannot choose its address by sending the
header itself: from an untrusted peer the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str | None) -> IPAddress | None:
    """An address, IPv4-mapped IPv6 turned into IPv4; None for anything that is not an address."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _within(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


@dataclass(frozen=True)
class AddressPolicy:
    allowed: tuple[IPNetwork, ...]
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allowlist: Iterable[str], trusted_proxies: Iterable[str]) -> AddressPolicy:
        return cls(parse_networks(allowlist), parse_networks(trusted_proxies))

    def client_address(self, peer: str | None, forwarded_for: str | None) -> IPAddress | None:
        """The real client: the peer, or the right-most untrusted entry of X-Forwarded-For."""
        address = parse_address(peer)
        if address is None or not forwarded_for or not _within(address, self.trusted_proxies):
            return address
        for entry in reversed(forwarded_for.split(",")):
            hop = parse_address(entry)
            if hop is None:
                return None  # a malformed chain from a trusted proxy: nobody is named reliably
            if not _within(hop, self.trusted_proxies):
                return hop
            address = hop
        return address

    def allows(self, address: IPAddress | None) -> bool:
        return address is not None and _within(address, self.allowed)
