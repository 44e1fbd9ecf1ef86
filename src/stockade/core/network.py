"""What the kernel says about this machine's network, read from /proc (no packet is sent)."""

from __future__ import annotations

from pathlib import Path

PROC_ROUTE = Path("/proc/net/route")
PROC_ROUTE6 = Path("/proc/net/ipv6_route")


def default_routes(route: Path = PROC_ROUTE, route6: Path = PROC_ROUTE6) -> list[str]:
    """Interfaces that carry a default route (IPv4 destination 0, or IPv6 ::/0 not on loopback)."""
    found: list[str] = []
    if route.is_file():
        for line in route.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 2 and parts[1] == "00000000" and parts[0] != "lo":
                found.append(f"{parts[0]} (IPv4)")
    if route6.is_file():
        for line in route6.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 10 and parts[0] == "0" * 32 and parts[1] == "00" and parts[9] != "lo":
                found.append(f"{parts[9]} (IPv6)")
    return found
