"""The real client address behind reverse proxies, for per-address limits (chat channels, staff
sign-in throttling).

The peer is believed unless it is a trusted proxy; then the right-most X-Forwarded-For entry that
is not itself a trusted proxy is the client (a client can prepend anything, so only what our
proxies appended counts).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import List, Sequence, Tuple, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
LOOPBACK: Tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


@functools.lru_cache(maxsize=8)
def trusted_networks(configured: str, loopback: bool = False) -> Tuple[Network, ...]:
    """TRUSTED_PROXIES (comma-separated addresses or networks), plus loopback when a proxy on
    this host is trusted too. A malformed entry is a configuration error, said at once."""
    networks: List[Network] = list(LOOPBACK) if loopback else []
    for part in configured.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: {part.strip()!r} is not an address or a network"
                ) from None
    return tuple(networks)


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The real client of a request from ``peer`` carrying these X-Forwarded-For headers."""
    peer = peer or "unknown"
    if not is_trusted(peer, proxies):
        return peer
    chain = [part.strip() for header in forwarded_for for part in header.split(",") if part.strip()]
    for address in reversed(chain):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return peer  # a garbled header: believe nothing in it
        if not is_trusted(address, proxies):
            return address
    return chain[0] if chain else peer
