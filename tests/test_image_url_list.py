"""Image lists that name URLs: fetched politely from a real local HTTP server, with
robots.txt and ``X-Robots-Tag: noai`` opt-outs counted as rejections and failed fetches
quarantined with the fetcher's reason."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.image.config import ImageIngestConfig
from pipelines.ingest import run_ingest
from storage.local import LocalStore

pytestmark = pytest.mark.slow


def _png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray((rng.random((160, 200, 3)) * 255).astype(np.uint8)).resize((400, 320))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


IMAGES = {f"/img/{i}.png": _png(i) for i in range(3)}
IMAGES["/private/secret.png"] = _png(10)
IMAGES["/noai.png"] = _png(11)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/robots.txt":
            body, ctype = b"User-agent: *\nDisallow: /private/\n", "text/plain"
        elif self.path in IMAGES:
            body, ctype = IMAGES[self.path], "image/png"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/noai.png":
            self.send_header("X-Robots-Tag", "noai")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_url_list_is_fetched_and_opt_outs_and_failures_are_accounted(site: str, tmp_path: Path) -> None:
    rows = [{"url": f"{site}/img/{i}.png", "caption": f"Ảnh thử nghiệm số {i} với nhiều màu sắc"} for i in range(3)]
    rows += [{"url": f"{site}/private/secret.png", "caption": "Ảnh riêng tư không được phép tải"},
             {"url": f"{site}/noai.png", "caption": "Ảnh mà chủ trang không cho dùng để huấn luyện"},
             {"url": f"{site}/missing.png", "caption": "Ảnh không còn trên máy chủ nữa"}]
    lst = tmp_path / "urls.jsonl"
    lst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cfg = ImageIngestConfig(dataset="web", sources=[{
        "name": "web", "format": "image_list", "paths": [str(lst)],
        "fetch": {"per_host_rate": 50, "retries": 0, "trust_env": False}}],
        privacy={"faces": False, "plates": False}, scorers={"nsfw": False, "text": False, "brisque": False})
    store = LocalStore(tmp_path / "store")
    res = run_ingest(cfg, store)
    t = res.stats["totals"]
    assert (t["inputs"], t["kept"], t["rejected"], t["quarantined"]) == (6, 3, 2, 1) and t["reconciles"]
    assert res.stats["rejected_by_reason"] == {"optout:robots_txt": 1, "optout:x_robots_tag": 1}
    assert res.stats["quarantined_by_error"] == {"FetchError.http_404": 1}
    rejected = pq.read_table(store.root / f"runs/{res.run_id}/rejected").to_pylist()
    assert all(r["image"] is None for r in rejected)  # never fetched, so nothing kept of it
    assert {r["url"] for r in rejected} == {f"{site}/private/secret.png", f"{site}/noai.png"}
