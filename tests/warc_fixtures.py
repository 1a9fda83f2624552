"""Build small WARC files for tests with warcio, including deliberately broken records."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ARTICLE = """<html><head><title>Tin tức</title></head><body>
<nav><a href="/">Trang chủ</a> | <a href="/tin">Tin tức</a> | <a href="/lh">Liên hệ</a></nav>
<article><h1>Thành phố mở rộng mạng lưới xe buýt điện</h1>
<p>Sở Giao thông vận tải thành phố cho biết từ tháng sau sẽ đưa thêm ba tuyến xe buýt điện vào hoạt động,
phục vụ người dân đi lại giữa trung tâm và các khu đô thị mới. Mỗi tuyến có khoảng hai mươi xe chạy liên tục
từ năm giờ sáng đến mười giờ tối, giá vé không thay đổi so với xe buýt thông thường.</p>
<p>Theo đại diện doanh nghiệp vận hành, xe buýt điện giúp giảm tiếng ồn và khí thải, đồng thời mang lại trải nghiệm
thoải mái hơn cho hành khách. Người dân có thể tra cứu lộ trình và thời gian xe đến trên ứng dụng điện thoại.</p>
</article><footer>Bản quyền thuộc về tòa soạn. Ghi rõ nguồn khi phát hành lại thông tin từ website này.</footer>
</body></html>"""


def _response(writer: WARCWriter, url: str, html: str, ctype: str = "text/html; charset=utf-8") -> None:
    headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode("utf-8")),
                                    http_headers=headers)
    writer.write_record(rec)


def _raw_response(url: str, block: bytes) -> bytes:
    """A response record written by hand, so its HTTP block can be malformed."""
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            f"WARC-Target-URI: {url}\r\nWARC-Date: 2026-10-01T00:00:00Z\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


def write_sample_warc(path: Path) -> dict[str, int]:
    """Write a WARC with a good article, a non-HTML response, a WET-style conversion record and a
    record whose HTTP header is broken. Returns the expected outcome counts."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    _response(writer, "https://tin.example.vn/xe-buyt", ARTICLE)
    _response(writer, "https://tin.example.vn/logo.png", "\x89PNG....", ctype="image/png")
    conv = writer.create_warc_record("https://tin.example.vn/wet", "conversion",
                                     payload=io.BytesIO("Bản tin văn bản thuần đã được trích xuất từ trước. "
                                                        "Nội dung nói về thời tiết các tỉnh phía Bắc.".encode()),
                                     warc_content_type="text/plain")
    writer.write_record(conv)
    data = buf.getvalue() + _raw_response("https://tin.example.vn/hong",
                                          b"HTTP/1.1 XYZ\r\nthis is not a header line\r\n\r\n<html>hi</html>")
    path.write_bytes(data)
    return {"records": 2, "quarantine": 2}


def write_sample_wet(path: Path) -> dict[str, int]:
    """Write a gzipped WET file as Common Crawl lays it out: a warcinfo record, then one
    conversion record (plain text already extracted) per page. One page holds bytes that are
    not UTF-8. Returns the expected outcome counts."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warcinfo_record("sample.warc.wet.gz", {"software": "kho-tests"}))
    pages = {
        "https://tin.example.vn/thoi-tiet": "Miền Bắc đón đợt không khí lạnh mới.\nNhiệt độ giảm mạnh về đêm.",
        "https://tin.example.vn/giao-duc": "Các trường đại học công bố phương án tuyển sinh năm học mới.",
    }
    for url, text in pages.items():
        writer.write_record(writer.create_warc_record(url, "conversion", payload=io.BytesIO(text.encode()),
                                                      warc_content_type="text/plain"))
    writer.write_record(writer.create_warc_record("https://tin.example.vn/hong", "conversion",
                                                  payload=io.BytesIO(b"Gi\xe1 v\xe0ng h\xf4m nay"),
                                                  warc_content_type="text/plain"))
    path.write_bytes(buf.getvalue())
    return {"records": len(pages), "quarantine": 1, "urls": sorted(pages)}
