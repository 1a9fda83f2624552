"""A few small web sites on one local port, told apart by the Host header, for the crawl
tests: robots.txt, a sitemap, a redirect, a 404, a slow page, a page robots.txt disallows,
an offsite link, an image, and a link trap (/trap/1 -> /trap/2 -> ... without end).

Site "localhost" is a news site; site "127.0.0.1" a small blog. Pages carry an ETag and
answer If-None-Match with 304, except /news/3 (no validators: its hash decides)."""

from __future__ import annotations

import hashlib
import html
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from pipelines.sample_data.make_sample import NEWS


def article(title: str, body: str, links: tuple[str, ...] = ()) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
    nav = "".join(f'<li><a href="{u}">{u}</a></li>' for u in links)
    return (f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><nav><ul>{nav}</ul></nav><article><h1>{html.escape(title)}</h1>"
            f"{paras}</article></body></html>")


@dataclass
class Sites:
    """What the server serves (``pages[(host, path)]``) and what it saw (``log``)."""

    port: int = 0
    pages: dict[tuple[str, str], str] = field(default_factory=dict)
    log: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: dict[str, int] = field(default_factory=dict)
    max_active: dict[str, int] = field(default_factory=dict)

    def base(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def fetched(self, host: str | None = None) -> list[str]:
        """Paths requested (in order), of one host or of all as ``host/path``."""
        with self.lock:
            return [e["path"] if host else f"{e['host']}{e['path']}" for e in self.log
                    if host is None or e["host"] == host]

    def build(self) -> None:
        a, b = self.base("localhost"), self.base("127.0.0.1")
        index = article("Tin tức", "Trang chủ của báo.", (
            "/news/1", "/news/2", "/old", "/missing", "/slow", "/private/secret", "/trap/1",
            "http://offsite.invalid/page", f"{b}/", "/news/1#top", "/news/../news/2", "/api/feed"))
        self.pages.update({
            ("localhost", "/robots.txt"): f"User-agent: *\nDisallow: /private/\nSitemap: {a}/sitemap.xml\n",
            ("localhost", "/sitemap.xml"): (
                '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                f'schemas/sitemap/0.9"><url><loc>{a}/news/3</loc></url><url><loc>{a}/news/1</loc>'
                "</url></urlset>"),
            ("localhost", "/"): index,
            ("localhost", "/news/1"): article(*NEWS[0], ("/",)),
            ("localhost", "/news/2"): article(*NEWS[1], ("/",)),
            ("localhost", "/news/3"): article(*NEWS[2]),
            ("localhost", "/news/moved"): article(*NEWS[3]),
            ("localhost", "/private/secret"): article("Bí mật", "Không được thu thập."),
            ("localhost", "/slow"): article("Chậm", "Trang này trả lời chậm."),
            ("127.0.0.1", "/robots.txt"): "User-agent: KhoBot\nDisallow: /members/\n",
            ("127.0.0.1", "/"): article("Blog", "Trang blog.", ("/blog/1", "/members/list")),
            ("127.0.0.1", "/blog/1"): (article(*NEWS[4]).replace(
                "</article>", "<img src='/img/a.png'><video><source src='/v/b.mp4'></video></article>")),
            ("127.0.0.1", "/members/list"): article("Thành viên", "Danh sách thành viên."),
        })


def _handler(sites: Sites) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self._leave()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if status != 304:
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._counted = True
            try:
                self._get()
            finally:
                self._leave()

        def _leave(self) -> None:
            """Stop counting this request as active: before its answer is written (else the
            client may send the next one first), or before the slow page's sleep (the
            client gives up on it after its timeout)."""
            if self._counted:
                self._counted = False
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
                with sites.lock:
                    sites.active[host] -= 1

        def _get(self) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            path = urlsplit(self.path).path
            with sites.lock:
                sites.active[host] = sites.active.get(host, 0) + 1
                sites.max_active[host] = max(sites.max_active.get(host, 0), sites.active[host])
                sites.log.append({"host": host, "path": self.path,
                                  "agent": self.headers.get("User-Agent", ""),
                                  "inm": self.headers.get("If-None-Match", "")})
                page = sites.pages.get((host, path))
            if path == "/old":
                return self._send(301, headers={"Location": "/news/moved"})
            if path.startswith("/trap/"):
                n = int(path.rsplit("/", 1)[1])
                return self._send(200, article(f"Bẫy {n}", "Trang bẫy.", (f"/trap/{n + 1}",)).encode())
            if path == "/slow":
                self._leave()
                time.sleep(2)
            if path == "/api/feed":
                return self._send(200, b'{"items": []}', "application/json")
            if page is None:
                return self._send(404, b"not found", "text/plain")
            body = page.encode()
            ctype = ("text/plain; charset=utf-8" if path.endswith(".txt") else
                     "application/xml" if path.endswith(".xml") else "text/html; charset=utf-8")
            headers = {}
            if path.startswith("/news/") and path != "/news/3":
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                headers["ETag"] = etag
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, headers=headers)
            self._send(200, body, ctype, headers)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that timed out and hung up (the slow page) is expected, not an error."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def serve() -> tuple[Sites, ThreadingHTTPServer]:
    """Start the sites on a free port in a daemon thread (call ``server.shutdown()``)."""
    sites = Sites()
    server = _QuietServer(("127.0.0.1", 0), _handler(sites))
    sites.port = server.server_address[1]
    sites.build()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sites, server


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.crawl_sites [PORT]``: serve the test sites until Ctrl-C, to try
    ``kho crawl`` by hand (docs/crawl.md shows a config for them)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    sites = Sites(port=int(args[0]) if args else 8765)
    server = _QuietServer(("127.0.0.1", sites.port), _handler(sites))
    sites.build()
    print(f"serving {sites.base('localhost')}/ and {sites.base('127.0.0.1')}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
