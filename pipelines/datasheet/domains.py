"""URL domain and top-level domain of a record, for the datasheet's composition and skew.

The *registered domain* is the last two labels of the host (``tin.example.vn`` ->
``example.vn``), or the last three when the last two form a known second-level public suffix
(``news.abc.com.vn`` -> ``abc.com.vn``). The suffix list is :data:`SECOND_LEVEL_SUFFIXES`
(Vietnam's and a few common foreign ones), not the full Public Suffix List: the project runs
offline and the list covers the hosts a Vietnamese crawl mostly meets. A host that is an IP
address is its own domain; a record without a parseable http(s) URL has domain None.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

#: Second-level labels under which names are registered one level deeper.
_VN_SECOND_LEVEL = ("com", "net", "org", "edu", "gov", "int", "ac", "biz", "info", "name", "pro",
                    "health", "mil")
SECOND_LEVEL_SUFFIXES: frozenset[str] = frozenset(
    [f"{s}.vn" for s in _VN_SECOND_LEVEL]
    + ["co.uk", "ac.uk", "gov.uk", "org.uk", "com.au", "edu.au", "co.jp", "com.cn", "com.sg", "co.kr"])


def host_of(url: str | None) -> str | None:
    """Lower-case host of an http(s) URL without port or trailing dot; None if there is none."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    return host.rstrip(".").lower() or None


def registered_domain(host: str) -> str:
    """The registered domain of a host (see the module docstring for the rule)."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in SECOND_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def domain_and_tld(url: str | None) -> tuple[str | None, str | None]:
    """(registered domain, top-level domain) of a URL; (None, None) without a usable host."""
    host = host_of(url)
    if host is None:
        return None, None
    domain = registered_domain(host)
    tld = None if domain == host and _is_ip(host) else host.rsplit(".", 1)[-1]
    return domain, tld


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
