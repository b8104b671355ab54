"""Where a webhook may point: http(s) only, and (unless an operator allows it) only public addresses.

The check runs on the addresses a name RESOLVES to, when a webhook is created or changed
and again before every attempt; the attempt then connects to the address that was checked,
so a name that later resolves elsewhere (DNS rebinding) cannot steer a delivery inside.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_S = 3.0
# Cloud instance metadata services: refused even when private addresses are allowed.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))
# Names that mean "this machine" or "the metadata service" whatever a resolver says.
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "metadata.google.internal",
               "metadata")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is not one a webhook may be sent to; the message says why, for the caller."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts, and the addresses it resolved to (all of them allowed)."""

    url: str
    scheme: str
    host: str  # as written, without brackets (an IPv6 literal is bare)
    port: int
    addresses: tuple[Address, ...]


def parse(url: str, allow_private: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of a well-formed http(s) URL; refuses other schemes and local names."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"url is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("url must start with https:// or http://")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("url has no host")
    if any(c.isspace() for c in url):
        raise UnsafeUrl("url must not contain spaces")
    if not allow_private and (host in LOCAL_NAMES or host.endswith(".localhost")):
        raise UnsafeUrl(f"url's host {host!r} is this machine or a metadata service; webhooks go to public "
                        "addresses only")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def refusal(address: Address, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `address` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    if allow_private:
        return None
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_private or address.is_reserved or address.is_unspecified or not address.is_global:
        return f"{address} is a private or reserved address"
    return None


async def resolve(host: str, port: int) -> tuple[Address, ...]:
    """Every address `host` resolves to (an IP literal is itself), bounded in time."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT_S)
    except (OSError, TimeoutError):
        raise UnsafeUrl(f"url's host {host!r} does not resolve") from None
    found = []
    for info in infos:
        host_part = cast(str, info[4][0])  # an IPv4/IPv6 sockaddr's host is a str (typeshed: str | int)
        address = ipaddress.ip_address(host_part.split("%", 1)[0])  # a scope id (fe80::1%eth0) is no address
        if address not in found:
            found.append(address)
    if not found:
        raise UnsafeUrl(f"url's host {host!r} does not resolve")
    return tuple(found)


async def check(url: str, allow_private: bool) -> Target:
    """The URL checked and resolved now; every address it resolves to must be allowed."""
    scheme, host, port = parse(url, allow_private)
    addresses = await resolve(host, port)
    for address in addresses:
        if (why := refusal(address, allow_private)) is not None:
            raise UnsafeUrl(f"url's host {host!r} resolves to {why}; webhooks go to public addresses only")
    return Target(url, scheme, host, port, addresses)
