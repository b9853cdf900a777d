"""An optional allowlist of alert senders (ALLOWED_SOURCE_IPS), off by default.

TradingView sends from four published addresses. Behind Cloud Run the peer is Google's front
end, which appends the real client to X-Forwarded-For: TRUSTED_PROXY_HOPS says how many
entries from the right are proxies we trust, so a sender cannot forge its address by
prepending its own header value.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from flask import Request

from app.domain.errors import Forbidden as SourceForbidden


def client_ip(request: Request, trusted_hops: int) -> str:
    """The sender's address, read through `trusted_hops` proxies."""
    if trusted_hops <= 0:
        return request.remote_addr or ""
    chain = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    # The last `trusted_hops` entries were appended by proxies we trust; the one before is the client.
    if len(chain) >= trusted_hops:
        return chain[-trusted_hops]
    return request.remote_addr or ""


def check_source(request: Request, allowed: tuple[str, ...], trusted_hops: int) -> None:
    """Refuse a sender outside the allowlist (no allowlist: everyone may send)."""
    if not allowed:
        return
    address = client_ip(request, trusted_hops)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise SourceForbidden("the sender's address could not be read") from None
    if getattr(ip, "ipv4_mapped", None):  # ::ffff:a.b.c.d from a dual-stack listener
        ip = ip.ipv4_mapped
    if not any(ip in network for network in _networks(allowed)):
        raise SourceForbidden("this address may not send alerts (ALLOWED_SOURCE_IPS)")


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress._BaseNetwork, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowed)
