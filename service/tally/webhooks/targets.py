"""Which webhook URLs Tally may send to (pure, no I/O): not the machine it runs on nor its private network,
unless an operator allows private targets (``TALLY_WEBHOOK_ALLOW_PRIVATE``), so that a platform token cannot
turn Tally into a proxy into its own network (SSRF)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tally.domain.errors import InvalidInput

SCHEMES = frozenset({"http", "https"})
LOCAL_NAMES = ("localhost", "localhost.localdomain")


def private_address(host: str) -> bool:
    """``host`` (an address literal) is loopback, private, link-local or otherwise not a public unicast address."""
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return not address.is_global or address.is_multicast


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse (400 naming ``url``) what is not an http(s) URL with a host, or names a local or private target."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a bad port raises here
    except ValueError as exc:
        raise InvalidInput.field("url", f"is not a URL ({exc})") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InvalidInput.field("url", "must be an http or https URL with a host")
    if parts.username or parts.password:
        raise InvalidInput.field("url", "must not carry credentials")
    del port
    if not allow_private and refused_host(parts.hostname):
        raise InvalidInput.field(
            "url", "names a loopback, private or link-local target (allowed only with TALLY_WEBHOOK_ALLOW_PRIVATE=true)"
        )


def refused_host(host: str) -> bool:
    """A host name or address literal that is local or private by its text alone (names are checked again, once
    resolved, when a delivery is sent)."""
    name = host.rstrip(".").lower()
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return private_address(name)
    except ValueError:
        return False  # a name, not an address
