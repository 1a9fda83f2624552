"""Start the review app (``kho review serve``): check where it may listen, then run uvicorn.

The app refuses a non-loopback address unless it terminates TLS itself (``--tls-cert`` and
``--tls-key``) or is told it sits behind a TLS proxy (``--allow-insecure-remote``): session
cookies and passwords must never cross a network in clear text.
"""

from __future__ import annotations

import ipaddress
import logging

from review.db import ReviewDB
from review.runs import ReviewError
from review.settings import ReviewSettings
from storage.base import ObjectStore

log = logging.getLogger(__name__)


class InsecureBindError(ReviewError):
    """A non-loopback address without TLS and without --allow-insecure-remote."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(settings: ReviewSettings) -> None:
    """Raise InsecureBindError unless the app may listen on ``settings.host`` as configured."""
    if is_loopback(settings.host) or settings.tls or settings.allow_insecure_remote:
        return
    raise InsecureBindError(
        f"refusing to listen on {settings.host} without TLS: pass --tls-cert and --tls-key, or "
        "--allow-insecure-remote if a TLS proxy in front terminates HTTPS (passwords and session "
        "cookies must not travel in clear text)")


def serve(store: ObjectStore, db: ReviewDB, settings: ReviewSettings) -> None:
    """Run the app until interrupted (blocking)."""
    import uvicorn

    from review.app import create_app

    check_bind(settings)
    app = create_app(store, db, settings)
    scheme = "https" if settings.tls else "http"
    log.info("review app on %s://%s:%d (store %s, database %r)", scheme, settings.host, settings.port,
             store.uri, db)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
                ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
                proxy_headers=False)


__all__ = ["InsecureBindError", "check_bind", "is_loopback", "serve"]
