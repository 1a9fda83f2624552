"""``kho crawl``: fetch web sources with Scrapy into WARC parts in the object store.

config.py   the crawl config (YAML, validated)
ledger.py   the crawl ledger: per URL, what was last written (ETag, Last-Modified, hash)
spool.py    WARC parts: records spooled locally, uploaded as they fill, then their ledger entries
spider.py   the Scrapy spider and the middleware that makes requests conditional
run.py      the child process that runs Scrapy, and :func:`run_crawl` that starts it

See docs/crawl.md.
"""
