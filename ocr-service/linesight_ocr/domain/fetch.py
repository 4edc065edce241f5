"""Fetching a label image by URL without becoming an SSRF proxy: http(s) only, every address the host
resolves to checked against private, loopback, link-local, multicast, reserved and metadata ranges
(unless allow-listed), the connection made to the address that was checked (no DNS rebinding), each
redirect checked again, and limits on bytes and time."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from linesight_core.errors import Problem

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
PROBLEM_TYPE = "https://linesight.dev/problems/image-url"
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class UrlRefused(Problem):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail, title="Image URL not fetched", type_=PROBLEM_TYPE)


@dataclass(frozen=True)
class AllowList:
    networks: tuple[IPNetwork, ...]
    hosts: frozenset[str]

    @classmethod
    def parse(cls, items: Sequence[str]) -> AllowList:
        networks, hosts = [], set()
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, host: str, address: IPAddress) -> bool:
        return host in self.hosts or any(address in net for net in self.networks)


def forbidden_reason(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    )
    for attribute, name in checks:
        if getattr(address, attribute):
            return f"a {name} address"
    if not address.is_global:
        return "not a public address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(422, f"The host {host!r} of the image URL does not resolve ({exc}).") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def checked_address(url: str, allow: AllowList) -> tuple[str, str, int, IPAddress]:
    """(scheme, host, port, the one address to connect to) once every address of the host passes."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused(422, f"Only http and https image URLs are fetched, not {scheme or 'a bare path'!r}.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UrlRefused(422, "The image URL has no host.")
    if parts.username or parts.password:
        raise UrlRefused(422, "Image URLs with credentials in them are not fetched.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UrlRefused(422, "The image URL's port is not a number between 0 and 65535.") from None
    addresses = resolve(host, port)
    for address in addresses:
        reason = forbidden_reason(address)
        if reason and not allow.allows(host, address):
            raise UrlRefused(
                422,
                f"The image URL's host {host} resolves to {address}, {reason}; such addresses are not "
                "fetched unless LINESIGHT_OCR_URL_ALLOWLIST lists them.",
            )
    return scheme, host, port, addresses[0]


def fetch_image(url: str, *, allow: AllowList, max_bytes: int, timeout: float, max_redirects: int) -> bytes:
    deadline = time.monotonic() + timeout
    # A fresh transport per fetch, no proxies from the environment, no cookies, no service token.
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
        for _ in range(max_redirects + 1):
            scheme, host, port, address = checked_address(url, allow)
            parts = urlsplit(url)
            literal = f"[{address}]" if address.version == 6 else str(address)
            pinned = urlunsplit((scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
            default_port = port == (443 if scheme == "https" else 80)
            headers = {"Host": host if default_port else f"{host}:{port}", "Accept": "image/*"}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UrlRefused(504, f"Fetching the image took longer than {timeout:g} s.")
            try:
                with client.stream(
                    "GET",
                    pinned,
                    headers=headers,
                    timeout=remaining,
                    extensions={"sni_hostname": host} if scheme == "https" else {},
                ) as response:
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise UrlRefused(
                            422, f"The image URL answered {response.status_code}, not 200 with an image."
                        )
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise UrlRefused(
                            413, f"The image is {declared} bytes; the limit is {max_bytes} bytes."
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            raise UrlRefused(413, f"The image is over the limit of {max_bytes} bytes.")
                        if time.monotonic() > deadline:
                            raise UrlRefused(504, f"Fetching the image took longer than {timeout:g} s.")
                    return bytes(body)
            except httpx.TimeoutException:
                raise UrlRefused(504, f"Fetching the image took longer than {timeout:g} s.") from None
            except httpx.HTTPError as exc:
                raise UrlRefused(422, f"The image URL could not be fetched: {type(exc).__name__}.") from None
    raise UrlRefused(422, f"The image URL redirected more than {max_redirects} times.")
