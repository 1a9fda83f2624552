"""Readers for text sources: JSONL (plain, .gz, .zst), Parquet, WARC/WET.

Each reader turns one input (a work unit) into a stream of outcomes: ``("record", row)`` for
a decodable document or ``("quarantine", row)`` for anything that is not, with the error
class, a message and the source pointer. A reader never raises for bad data: a truncated
archive, a malformed line or an empty file become quarantine rows and reading goes on.
Plain generators, no Beam: the pipeline wraps them in a DoFn.
"""

from __future__ import annotations

import io
import json
import logging
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from pipelines.records import quarantine_row, record_id

log = logging.getLogger(__name__)

Outcome = tuple[str, dict[str, Any]]
CHUNK = 1024 * 1024
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024


class InputError(Exception):
    """Base for input problems that send data to quarantine."""


class EmptyInputError(InputError):
    """The input holds no records at all."""


class LineTooLongError(InputError):
    """A line is larger than the configured bound; it is skipped without being held in memory."""


class TruncatedInputError(InputError):
    """The compressed stream ended early; records before the cut are kept."""


class _GzipStream(io.RawIOBase):
    """Streaming gzip (multi-member) that hands out every byte decompressed before a
    truncation, then raises TruncatedInputError; GzipFile would drop its last buffer."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._buf and not self._done:
            raw = self._fh.read(CHUNK)
            if not raw:
                self._done = True
                if not self._d.eof and (self._d.unconsumed_tail or self._started):
                    raise TruncatedInputError("compressed stream ends before its end marker")
                return
            self._started = True
            data = self._d.decompress(raw)
            while self._d.eof and self._d.unused_data:  # next gzip member
                rest = self._d.unused_data
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data += self._d.decompress(rest)
            self._buf = data

    _started = False

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        self._fill()
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def open_decompressed(fh: BinaryIO, uri: str) -> BinaryIO:
    """Wrap ``fh`` in the decompressor its name implies (.gz, .zst)."""
    if uri.endswith(".gz"):
        return _GzipStream(fh)  # type: ignore[return-value]
    if uri.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(fh)  # type: ignore[return-value]
    return fh


def iter_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield (line_number, line, length) with bounded memory.

    A line longer than ``max_line_bytes`` is yielded as ``None`` (with its length) after
    being skipped in chunks. Decompression errors propagate to the caller.
    """
    buf = bytearray()
    lineno = 0
    skipping = 0  # >0 while discarding an overlong line
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                if skipping:
                    skipping += len(chunk) - start
                else:
                    buf += chunk[start:]
                    if len(buf) > max_line_bytes:
                        skipping = len(buf)
                        buf = bytearray()
                break
            lineno += 1
            if skipping:
                yield lineno, None, skipping + (nl - start)
                skipping = 0
            else:
                buf += chunk[start:nl]
                if len(buf) > max_line_bytes:
                    yield lineno, None, len(buf)
                else:
                    yield lineno, bytes(buf), len(buf)
                buf = bytearray()
            start = nl + 1
    if skipping:
        yield lineno + 1, None, skipping
    elif buf:
        yield lineno + 1, bytes(buf), len(buf)


def _provenance(source: dict[str, Any], uri: str, pointer: str, url: str | None,
                date: str | None) -> dict[str, Any]:
    return {
        "id": record_id(source["name"], uri, pointer),
        "source": source["name"],
        "uri": uri,
        "pointer": pointer,
        "url": url or "",
        "crawl_date": date or "",
        "license": source.get("license", ""),
    }


def source_decoder(source: dict[str, Any]):
    """The bytes -> str function a source's ``encoding`` asks for (strict UTF-8 by default)."""
    from filters.normalize import decode_bytes, decode_legacy_bytes

    encoding = source.get("encoding")
    if encoding == "legacy":
        return decode_legacy_bytes
    return lambda raw: decode_bytes(raw, declared=encoding)


def read_jsonl(fh: BinaryIO, uri: str, source: dict[str, Any],
               max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Outcome]:
    """Records from JSON Lines; each bad line is quarantined on its own."""
    from filters.normalize import TextDecodeError

    decode = source_decoder(source)

    name = source["name"]
    text_field = source.get("text_field", "text")
    seen = 0
    lineno = 0
    try:
        for lineno, line, length in iter_lines(open_decompressed(fh, uri), max_line_bytes):
            pointer = f"line:{lineno}"
            if line is None:
                yield "quarantine", quarantine_row(name, uri, pointer, "LineTooLongError",
                                                   f"line {lineno} is {length:,} bytes, over the "
                                                   f"{max_line_bytes:,}-byte bound; it was skipped")
                seen += 1
                continue
            if not line.strip():
                continue
            seen += 1
            try:
                obj = json.loads(decode(line))
            except TextDecodeError as exc:
                yield "quarantine", quarantine_row(name, uri, pointer, exc, raw=line)
                continue
            except json.JSONDecodeError as exc:
                yield "quarantine", quarantine_row(name, uri, pointer, exc,
                                                   f"malformed JSON on line {lineno}: {exc.msg} "
                                                   f"at column {exc.colno}", raw=line)
                continue
            text = obj.get(text_field) if isinstance(obj, dict) else None
            if not isinstance(text, str):
                yield "quarantine", quarantine_row(
                    name, uri, pointer, "MissingFieldError",
                    f"line {lineno} has no string field {text_field!r} (set text_field in the "
                    "source config)", raw=line)
                continue
            row = _provenance(source, uri, pointer, obj.get(source.get("url_field", "url")),
                              obj.get(source.get("date_field", "date")))
            row["raw_text"] = text
            yield "record", row
    except (TruncatedInputError, EOFError, OSError, zlib.error, ValueError) as exc:
        seen += 1
        yield "quarantine", quarantine_row(
            name, uri, f"line:{lineno + 1}", TruncatedInputError.__name__,
            f"{uri} is damaged after line {lineno} ({type(exc).__name__}: {exc}); "
            "records before it were kept")
    if seen == 0:
        yield "quarantine", quarantine_row(name, uri, "file", EmptyInputError.__name__,
                                           f"{uri} holds no records")


def read_parquet(fh: BinaryIO, uri: str, source: dict[str, Any]) -> Iterator[Outcome]:
    """Records from a Parquet file, row group by row group."""
    import pyarrow.parquet as pq

    name = source["name"]
    text_field = source.get("text_field", "text")
    try:
        pf = pq.ParquetFile(io.BytesIO(fh.read()))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a quarantine case
        yield "quarantine", quarantine_row(name, uri, "file", exc,
                                           f"{uri} is not a readable Parquet file: {exc}")
        return
    if text_field not in pf.schema_arrow.names:
        yield "quarantine", quarantine_row(name, uri, "file", "MissingFieldError",
                                           f"{uri} has no column {text_field!r}")
        return
    if pf.metadata.num_rows == 0:
        yield "quarantine", quarantine_row(name, uri, "file", EmptyInputError.__name__,
                                           f"{uri} holds no rows")
        return
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for obj in batch.to_pylist():
            pointer = f"row:{n}"
            n += 1
            text = obj.get(text_field)
            if not isinstance(text, str):
                yield "quarantine", quarantine_row(name, uri, pointer, "MissingFieldError",
                                                   f"row {n - 1} has no text in {text_field!r}")
                continue
            row = _provenance(source, uri, pointer, obj.get(source.get("url_field", "url")),
                              str(obj.get(source.get("date_field", "date")) or ""))
            row["raw_text"] = text
            yield "record", row


def html_to_text(html: str, url: str | None = None) -> str | None:
    """Main text of an HTML page (trafilatura), without menus and boilerplate."""
    import trafilatura

    return trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                               favor_precision=True)


def read_warc(fh: BinaryIO, uri: str, source: dict[str, Any]) -> Iterator[Outcome]:
    """Documents from WARC (HTML responses, extracted) or WET (conversion records) files."""
    from warcio.archiveiterator import ArchiveIterator

    name = source["name"]
    decode = source_decoder(source)
    seen = 0
    it = ArchiveIterator(fh, check_digests=False)
    while True:
        try:
            rec = next(it)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - a broken archive: quarantine and stop
            seen += 1
            yield "quarantine", quarantine_row(name, uri, f"offset:{it.offset}", exc,
                                               f"{uri} cannot be read past offset {it.offset}: {exc}")
            break
        if rec.rec_type not in ("response", "conversion"):
            continue
        seen += 1
        rid = rec.rec_headers.get_header("WARC-Record-ID") or f"offset:{it.offset}"
        url = rec.rec_headers.get_header("WARC-Target-URI")
        date = rec.rec_headers.get_header("WARC-Date")
        try:
            yield from _warc_record(rec, name, uri, rid, url, date, source, decode)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the file
            yield "quarantine", quarantine_row(name, uri, rid, exc,
                                               f"WARC record {rid} could not be parsed: {exc}")
    if seen == 0:
        yield "quarantine", quarantine_row(name, uri, "file", EmptyInputError.__name__,
                                           f"{uri} holds no response or conversion records")


def _warc_record(rec, name: str, uri: str, rid: str, url: str | None, date: str | None,
                 source: dict[str, Any], decode) -> Iterator[Outcome]:
    from filters.normalize import TextDecodeError

    if rec.rec_type == "response":
        if rec.http_headers is None or not rec.http_headers.get_statuscode():
            raise ValueError("missing or broken HTTP header block")
        status = rec.http_headers.get_statuscode()
        ctype = (rec.http_headers.get_header("Content-Type") or "").lower()
        payload = rec.content_stream().read()
        if not status.isdigit():
            raise ValueError(f"broken HTTP status line {status!r}")
        if "html" not in ctype and "text" not in ctype:
            yield "quarantine", quarantine_row(name, uri, rid, "UnsupportedContentError",
                                               f"WARC record {rid} is {ctype or 'untyped'}, not HTML")
            return
        html = payload.decode("utf-8", errors="replace")
        text = html_to_text(html, url)
        if not text:
            yield "quarantine", quarantine_row(name, uri, rid, "ExtractionError",
                                               f"no main text found in {url or rid}", raw=payload)
            return
    else:
        payload = rec.content_stream().read()
        try:
            text = decode(payload)
        except TextDecodeError as exc:
            yield "quarantine", quarantine_row(name, uri, rid, exc, raw=payload)
            return
    row = _provenance(source, uri, rid, url, date)
    row["raw_text"] = text
    yield "record", row


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "warc": read_warc}
