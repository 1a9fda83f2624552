"""The crawl ledger: one small JSON object per canonical URL,
``crawls/<dataset>/<source>/ledger/<sha256(url)>.json``.

An entry says what the last crawl that *wrote* the page stored: its ETag and Last-Modified
(sent back as If-None-Match / If-Modified-Since), the sha256 of its body (a page served again
with the same bytes is not written twice), the crawl and WARC part holding it, and the links
it had (followed again when the server answers 304, which carries no body). Entries are
written only after their WARC part is in the store, so an entry never points at a lost page.
Point lookups only: nothing here LISTs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import crawl_ledger_key

log = logging.getLogger(__name__)


class CrawlLedger:
    """Reads and writes the crawl ledger of one (dataset, source)."""

    def __init__(self, store: ObjectStore, dataset: str, source: str) -> None:
        self.store, self.dataset, self.source = store, dataset, source

    def get(self, url: str) -> dict[str, Any]:
        """The entry of a canonical URL, or {} when it has none or it is unreadable."""
        try:
            return json.loads(self.store.get_bytes(crawl_ledger_key(self.dataset, self.source, url)))
        except ObjectNotFoundError:
            return {}
        except ValueError:
            log.warning("crawl ledger entry of %s is unreadable; the page is fetched again", url)
            return {}

    def put(self, entry: dict[str, Any]) -> None:
        """Record an entry (``entry["url"]`` is its key)."""
        self.store.put_bytes(crawl_ledger_key(self.dataset, self.source, entry["url"]),
                             json.dumps(entry, ensure_ascii=False, sort_keys=True).encode(),
                             "application/json")
