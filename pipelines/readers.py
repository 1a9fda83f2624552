"""Readers for text sources: JSONL (plain, .gz, .zst), Parquet, WARC/WET.

Each reader turns one input (a work unit) into a stream of outcomes: ``("record", row)`` for
a decodable document or ``("quarantine", row)`` for anything that is not, with the error
class, a message and the source pointer. A reader never raises for bad data: a truncated
archive, a malformed line or an empty file become quarantine rows and reading goes on.
Plain generators, no Beam: the pipeline wraps them in a DoFn.

Every reader is bounded in time and memory, whatever its input (:class:`ReadLimits`, set per
source in the config):

- ``max_input_bytes``: decompressed bytes read from one input. A decompression bomb (2 MB of
  gzip or zstd that inflates to gigabytes) stops at the bound with one
  ``InputTooLargeError`` row; the records before it are kept.
- ``max_line_bytes``: one JSONL line; a longer one is skipped in chunks, never held.
- ``max_record_bytes``: one record's text (JSONL, Parquet) or payload (WARC); a larger one
  is quarantined (``RecordTooLargeError``). Parquet sizes are checked in Arrow, so such a
  text never becomes a Python string; WARC reads only the bound's worth of a payload.
- JSON nested deeper than ``max_json_depth`` is quarantined (``JsonTooDeepError``), and so
  is a line ``json.loads`` gives up on (RecursionError), whatever the depth.
- ``max_extra_bytes``: a record's lineage, its ``source_id`` (the source's own id) and the JSON
  of the ``extra_fields`` it keeps; over it, or with text and lineage together over
  ``max_record_bytes``, the record is quarantined (``RecordTooLargeError``).

Line splitting is linear in the input: chunks are scanned with offsets (no re-slicing of a
big buffer), a line that spans chunks is joined once, and runs of blank lines are skipped by
a C-level scan, so a gigabyte of newlines costs no Python work per line.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, fields
from typing import Any, BinaryIO

from pipelines.records import quarantine_row, record_id

log = logging.getLogger(__name__)

Outcome = tuple[str, dict[str, Any]]
Line = tuple[int, "bytes | None", int]
CHUNK = 1024 * 1024
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
#: Decompressed bytes per input. Far above any shard worth ingesting as one work unit (Common
#: Crawl WET files inflate to ~0.4 GB, Hub shards are 0.1-5 GB) and cheap to reach for a bomb:
#: with linear splitting, 8 GiB of newlines is about half a minute of one core.
DEFAULT_MAX_INPUT_BYTES = 8 * 1024**3
#: One record's text or payload. 4x Common Crawl's own 1 MiB payload cap and about a thousand
#: times a typical web document, yet small enough that the annotating steps (normalize, quality
#: signals, PII) stay in seconds and tens of MB per record.
DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024
#: JSON nesting; real records nest a few levels, and 256 stays far below the interpreter's
#: recursion limit (1000) whatever the runner's own stack depth, so the outcome is the same on
#: every runner.
DEFAULT_MAX_JSON_DEPTH = 256
#: A record's lineage (its ``source_id`` and the JSON text of its ``extra`` fields, UTF-8 bytes
#: together): metadata, so far below a text's bound. A larger one is quarantined
#: (RecordTooLargeError), and so is a record whose text and lineage together pass
#: ``max_record_bytes``: extra fields never carry a record past the record bound.
DEFAULT_MAX_EXTRA_BYTES = 64 * 1024
#: Parquet batches are sized to about this many bytes of the columns read.
PARQUET_BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """What one input may cost a reader; the defaults are SourceConfig's (see module doc)."""

    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_extra_bytes: int = DEFAULT_MAX_EXTRA_BYTES

    @classmethod
    def of(cls, source: dict[str, Any], **override: int | None) -> ReadLimits:
        """The limits a source config sets (missing keys keep the defaults); non-None
        ``override`` values win."""
        values = {f.name: source[f.name] for f in fields(cls) if source.get(f.name) is not None}
        values.update({k: v for k, v in override.items() if v is not None})
        return cls(**values)


class InputError(Exception):
    """Base for input problems that send data to quarantine."""


class EmptyInputError(InputError):
    """The input holds no records at all."""


class LineTooLongError(InputError):
    """A line is larger than the configured bound; it is skipped without being held in memory."""


class TruncatedInputError(InputError):
    """The compressed stream ended early; records before the cut are kept."""


class InputTooLargeError(InputError):
    """An input inflates past ``max_input_bytes`` (a decompression bomb, or a file to split);
    reading stops there and the records before it are kept."""

    def __init__(self, read: int, bound: int, where: str = "") -> None:
        self.read, self.bound, self.where = read, bound, where
        super().__init__(f"stopped after {read:,} decompressed bytes{where}, over the "
                         f"{bound:,}-byte max_input_bytes bound; the records before it were kept "
                         "(split the input, or raise the source's max_input_bytes if it is genuine)")


class RecordTooLargeError(InputError):
    """A record's text or payload is larger than ``max_record_bytes``; it is skipped."""


class JsonTooDeepError(InputError):
    """A JSON line nests deeper than ``max_json_depth``; it is skipped before parsing."""


def _record_too_large(what: str, bound: int) -> str:
    """The message of a RecordTooLargeError row; ``what`` says what is how large."""
    return (f"{what}, over the {bound:,}-byte max_record_bytes bound; it was skipped (raise "
            "the source's max_record_bytes to keep such records)")


class _GzipStream(io.RawIOBase):
    """Streaming gzip (multi-member) that hands out every byte decompressed before a
    truncation, then raises TruncatedInputError; GzipFile would drop its last buffer.

    Each ``read(n)`` inflates at most ``n`` bytes (zlib's ``max_length``, the rest of the
    input waits in ``unconsumed_tail``), so a bomb is never in memory whole and no buffer is
    re-sliced: the cost is linear in the bytes handed out."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""  # compressed bytes read but not yet inflated
        self._fed = False  # whether any compressed byte came in
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        limit = n if n and n > 0 else CHUNK
        while not self._done:
            if self._d.eof and not self._next_member():
                break
            raw = self._tail or self._fh.read(CHUNK)
            self._fed = self._fed or bool(raw)
            out = self._d.decompress(raw, limit)
            self._tail = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
            if out:
                return out
            if not raw and not self._d.eof:  # input ended inside a member
                self._done = True
                if self._fed:
                    raise TruncatedInputError("compressed stream ends before its end marker")
        return b""

    def _next_member(self) -> bool:
        """Start the next gzip member if bytes follow the one that ended."""
        self._tail = self._tail or self._fh.read(CHUNK)
        if not self._tail:
            self._done = True
            return False
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return True


def open_decompressed(fh: BinaryIO, uri: str) -> BinaryIO:
    """Wrap ``fh`` in the decompressor its name implies (.gz, .zst). Both hand out at most
    the bytes asked for per read; zstd reads every frame (pzstd and concatenated files have
    several) and keeps libzstd's default 128 MiB window limit."""
    if uri.endswith(".gz"):
        return _GzipStream(fh)  # type: ignore[return-value]
    if uri.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(  # type: ignore[return-value]
            fh, read_across_frames=True)
    return fh


_BLANK = frozenset(b" \t\n\r\x0b\x0c")  # ASCII whitespace, as bytes.strip() sees it
_CONTENT = re.compile(rb"[^ \t\n\r\x0b\x0c]")  # the first byte that is not


class _LineSplitter:
    """Split chunks of a byte stream into lines, one pass over each chunk, by offsets.

    A line inside one chunk is sliced once; a line spanning chunks keeps its pieces in a list
    joined once at its end, or, past ``max_line_bytes``, only its length. Whitespace between
    lines (blank lines, indentation) is skipped by a regex scan and counted with
    ``bytes.count``: no Python work per blank line."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.lineno = 0  # newlines seen so far
        self._parts: list[bytes] = []  # the open line's bytes from earlier chunks
        self._len = 0  # the open line's length so far (counted while skipping too)
        self._open = False  # a non-blank line started and has not ended

    def feed(self, chunk: bytes) -> Iterator[Line]:
        pos, end = 0, len(chunk)
        while pos < end:
            if not self._open:
                pos = self._skip_blank(chunk, pos)
                if pos == end:
                    return
                self._open = True
            nl = chunk.find(b"\n", pos)
            if nl < 0:
                self._keep(chunk, pos, end)
                return
            self.lineno += 1
            yield self._close(chunk, pos, nl)
            pos = nl + 1

    def _skip_blank(self, chunk: bytes, pos: int) -> int:
        """Offset of the first non-blank byte from ``pos`` (``len(chunk)`` if none), counting
        the newlines passed. Windows double from 256 bytes, so the work is linear in the
        blank run; a window of newlines only costs one ``bytes.count``."""
        end, width = len(chunk), 256
        if pos < end and chunk[pos] not in _BLANK:  # the usual case: a line right after a line
            return pos
        while pos < end:
            stop = min(end, pos + width)
            newlines = chunk.count(b"\n", pos, stop)
            m = _CONTENT.search(chunk, pos, stop) if newlines < stop - pos else None
            if m:
                self.lineno += chunk.count(b"\n", pos, m.start())
                return m.start()
            self.lineno += newlines
            pos, width = stop, width * 2
        return end

    def finish(self) -> Iterator[Line]:
        """The last line, if the stream does not end with a newline."""
        if self._open:
            self.lineno += 1
            yield self._close(b"", 0, 0)

    def _keep(self, chunk: bytes, start: int, stop: int) -> None:
        self._len += stop - start
        if self._len > self.max_line_bytes:
            self._parts = []  # overlong: from now on only its length is counted
        else:
            self._parts.append(chunk[start:stop])

    def _close(self, chunk: bytes, start: int, stop: int) -> Line:
        length = self._len + stop - start
        if length > self.max_line_bytes:
            line = None
        elif self._parts:
            line = b"".join([*self._parts, chunk[start:stop]])
        else:
            line = chunk[start:stop]
        self._parts, self._len, self._open = [], 0, False
        return self.lineno, line, length


def iter_lines(stream: BinaryIO, max_line_bytes: int,
               max_input_bytes: int | None = None) -> Iterator[Line]:
    """Yield (line_number, line, length) for every non-blank line, in time linear in the
    input and memory bounded by ``max_line_bytes`` plus one chunk.

    Blank lines are counted, not yielded; leading whitespace is dropped. A line longer than
    ``max_line_bytes`` is yielded as ``None`` (with its length) after being skipped in
    chunks. Past ``max_input_bytes`` of stream, every line that ended within the bound has
    been yielded and InputTooLargeError is raised. Decompression errors propagate."""
    splitter = _LineSplitter(max_line_bytes)
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        over = max_input_bytes is not None and total > max_input_bytes
        if over:
            chunk = chunk[: len(chunk) - (total - max_input_bytes)]
        yield from splitter.feed(chunk)
        if over:
            raise InputTooLargeError(total, max_input_bytes, f" in line {splitter.lineno + 1}")
    yield from splitter.finish()


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests arrays and objects deeper than ``limit`` (a
    top-level object is depth 1). Iterative, and cheap: only containers are visited, and a
    flat record is one dict.

    Checked after ``json.loads`` rather than on the bytes before it: a byte scan costs about
    40% of the reader's throughput on long lines, while ``json.loads`` gives up on its own
    (RecursionError) within the interpreter's ~1000 levels, so a line nested 100,000 deep
    costs no more than one nested 1,000 deep. This check makes the outcome independent of
    how deep the runner's stack already is."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


#: A field the record does not have (a JSON key or Parquet column that is not there).
_ABSENT = object()


def _utf8_safe(value: str) -> str:
    """``value`` as Arrow can store it: a lone surrogate (JSON ``"\\ud800"``) is escaped."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _as_text(value: Any) -> str | None:
    """A provenance value as a string column holds it: None stays None, an int (or any other
    scalar) becomes its text, a list or object its compact JSON."""
    if value is None or value is _ABSENT:
        return None
    if isinstance(value, str):
        return _utf8_safe(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (dict, list, tuple)):
        return _extra_json(value)
    return _utf8_safe(str(value))


def _json_default(value: Any) -> Any:
    """JSON for what Parquet hands out beyond JSON's types (dates, decimals, bytes)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as null (JSON has no spelling for them)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _extra_json(values: Any) -> str:
    """Compact JSON, UTF-8 as is (Vietnamese stays readable); escaped only where a lone
    surrogate would make it unstorable, NaN / infinity as null."""
    kw: dict[str, Any] = {"separators": (",", ":"), "default": _json_default, "allow_nan": False}
    try:
        out = json.dumps(values, ensure_ascii=False, **kw)
    except ValueError:
        out = json.dumps(_finite(values), ensure_ascii=False, **kw)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = json.dumps(_finite(values), ensure_ascii=True, **kw)
    return out


@dataclass(frozen=True, slots=True)
class Lineage:
    """What a record keeps of its source's own fields: ``source_id`` (the ``id_field``'s
    value as a string, None when the record has none) and ``extra`` (the JSON object of the
    ``extra_fields`` it has, None when the source names none), and their UTF-8 size."""

    source_id: str | None = None
    extra: str | None = None
    size: int = 0


def lineage(source: dict[str, Any], field: Callable[[str], Any],
            id_field: str | None = None) -> Lineage:
    """The lineage of one record; ``field(name)`` is its value of a field, ``_ABSENT`` if it
    has none. A named extra field the record lacks is left out of ``extra``; one it holds as
    null is ``null`` there."""
    source_id = _as_text(field(id_field or source.get("id_field") or "id"))
    names = source.get("extra_fields") or ()
    extra = None
    if names:
        values = {}
        for n in names:
            v = field(n)
            if v is not _ABSENT:
                values[n] = v
        extra = _extra_json(values)
    size = (len(source_id.encode("utf-8")) if source_id else 0) + (
        len(extra.encode("utf-8")) if extra else 0)
    return Lineage(source_id, extra, size)


def _lineage_problem(lin: Lineage, text: str | None, text_bytes_at_most: int, what: str,
                     limits: ReadLimits) -> str | None:
    """Why a record is over a bound because of its lineage, if it is: its lineage is over
    ``max_extra_bytes``, or its text and lineage together over ``max_record_bytes``
    (``text_bytes_at_most``: a bound on the text's size known without encoding it)."""
    if not lin.size:
        return None
    if lin.size > limits.max_extra_bytes:
        return (f"the id and extra fields of {what} are {lin.size:,} bytes, over the "
                f"{limits.max_extra_bytes:,}-byte max_extra_bytes bound; it was skipped (raise the "
                "source's max_extra_bytes, or name fewer extra_fields)")
    if text is not None and text_bytes_at_most + lin.size > limits.max_record_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size + lin.size > limits.max_record_bytes:
            return _record_too_large(f"the text of {what} is {size:,} bytes and its id and extra "
                                     f"fields {lin.size:,} more", limits.max_record_bytes)
    return None


def _provenance(source: dict[str, Any], uri: str, pointer: str, url: Any,
                date: Any, lin: Lineage = Lineage()) -> dict[str, Any]:
    """The provenance columns of a record. An absent (or empty) date is None, not ''; a date
    or url that is not a string (an int, a timestamp) is stored as its text."""
    return {
        "id": record_id(source["name"], uri, pointer),
        "source": source["name"],
        "uri": uri,
        "pointer": pointer,
        "source_id": lin.source_id,
        "url": _as_text(url) or "",
        "crawl_date": _as_text(date) or None,
        "license": source.get("license", ""),
        "extra": lin.extra,
    }


def source_decoder(source: dict[str, Any]):
    """The bytes -> str function a source's ``encoding`` asks for (strict UTF-8 by default)."""
    from filters.normalize import decode_bytes, decode_legacy_bytes

    encoding = source.get("encoding")
    if encoding == "legacy":
        return decode_legacy_bytes
    return lambda raw: decode_bytes(raw, declared=encoding)


def _damage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a compressed stream is damaged (zstd's own included)."""
    errors: tuple[type[BaseException], ...] = (TruncatedInputError, EOFError, OSError,
                                               zlib.error, ValueError)
    try:
        import zstandard
    except ImportError:
        return errors
    return (*errors, zstandard.ZstdError)


_TOO_DEEP = object()  # the value of a line json.loads gave up on (RecursionError)


def _jsonl_parser(source: dict[str, Any], uri: str,
                  limits: ReadLimits) -> Callable[[int, bytes | None, int], Outcome]:
    """The function that turns one line of ``uri`` into its outcome."""
    from filters.normalize import TextDecodeError

    decode = source_decoder(source)
    name = source["name"]
    text_field = source.get("text_field", "text")
    url_field, date_field = source.get("url_field", "url"), source.get("date_field", "date")
    too_deep = (f"nests JSON deeper than {limits.max_json_depth} levels; it was skipped (raise "
                "the source's max_json_depth, at most 900, if such records are genuine)")
    # Decoded UTF-8 is never longer than the line (a JSON escape is never shorter than what it
    # stands for), except from a legacy 8-bit encoding: one byte, up to three in UTF-8.
    growth = 1 if source.get("encoding") is None else 3

    def parse(lineno: int, line: bytes | None, length: int) -> Outcome:
        pointer = f"line:{lineno}"
        if line is None:
            return "quarantine", quarantine_row(
                name, uri, pointer, LineTooLongError.__name__,
                f"line {lineno} is {length:,} bytes, over the {limits.max_line_bytes:,}-byte "
                "bound; it was skipped (raise the source's max_line_bytes to keep such lines)")
        try:
            obj = json.loads(decode(line))
        except TextDecodeError as exc:
            return "quarantine", quarantine_row(name, uri, pointer, exc, raw=line)
        except json.JSONDecodeError as exc:
            return "quarantine", quarantine_row(name, uri, pointer, exc,
                                                f"malformed JSON on line {lineno}: {exc.msg} "
                                                f"at column {exc.colno}", raw=line)
        except RecursionError:  # the interpreter's limit: json.loads stops within ~1000 levels
            obj = _TOO_DEEP
        if obj is _TOO_DEEP or json_depth_exceeds(obj, limits.max_json_depth):
            return "quarantine", quarantine_row(name, uri, pointer, JsonTooDeepError.__name__,
                                                f"line {lineno} {too_deep}", raw=line)
        text = obj.get(text_field) if isinstance(obj, dict) else None
        if not isinstance(text, str):
            return "quarantine", quarantine_row(
                name, uri, pointer, "MissingFieldError",
                f"line {lineno} has no string field {text_field!r} (set text_field in the "
                "source config)", raw=line)
        if length * growth > limits.max_record_bytes:  # only long lines can hold a large text
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > limits.max_record_bytes:
                return "quarantine", quarantine_row(
                    name, uri, pointer, RecordTooLargeError.__name__, _record_too_large(
                        f"the {text_field!r} of line {lineno} is {size:,} bytes",
                        limits.max_record_bytes), raw=line)
        lin = lineage(source, lambda f: obj.get(f, _ABSENT))
        problem = _lineage_problem(lin, text, length * growth, f"line {lineno}", limits)
        if problem:
            return "quarantine", quarantine_row(name, uri, pointer, RecordTooLargeError.__name__,
                                                problem, raw=line)
        row = _provenance(source, uri, pointer, obj.get(url_field), obj.get(date_field), lin)
        row["raw_text"] = text
        return "record", row

    return parse


def read_jsonl(fh: BinaryIO, uri: str, source: dict[str, Any],
               max_line_bytes: int | None = None) -> Iterator[Outcome]:
    """Records from JSON Lines; each bad line is quarantined on its own. An input that breaks
    off, or inflates past ``max_input_bytes``, ends with one quarantine row and keeps the
    records before it. ``max_line_bytes`` overrides the source's bound."""
    limits = ReadLimits.of(source, max_line_bytes=max_line_bytes)
    parse = _jsonl_parser(source, uri, limits)
    name = source["name"]
    seen = 0
    lineno = 0
    try:
        for lineno, line, length in iter_lines(open_decompressed(fh, uri), limits.max_line_bytes,
                                               limits.max_input_bytes):
            seen += 1
            yield parse(lineno, line, length)
    except InputTooLargeError as exc:
        seen += 1
        log.warning("%s: %s", uri, exc)
        yield "quarantine", quarantine_row(name, uri, f"line:{lineno + 1}", exc, f"{uri}: {exc}")
    except _damage_errors() as exc:
        seen += 1
        yield "quarantine", quarantine_row(
            name, uri, f"line:{lineno + 1}", TruncatedInputError.__name__,
            f"{uri} is damaged after line {lineno} ({type(exc).__name__}: {exc}); "
            "records before it were kept")
    if seen == 0:
        yield "quarantine", quarantine_row(name, uri, "file", EmptyInputError.__name__,
                                           f"{uri} holds no records")


def _seekable(fh: BinaryIO, limits: ReadLimits, stack: ExitStack) -> BinaryIO:
    """``fh`` if it can seek (a local file), else a temporary copy of it (a store stream:
    Parquet's footer is at the end), written in chunks and bounded by ``max_input_bytes``."""
    try:
        if fh.seekable():
            return fh
    except (AttributeError, OSError):
        pass
    spool = stack.enter_context(tempfile.TemporaryFile(dir=os.environ.get("KHO_TMP_DIR")))
    copied = 0
    while chunk := fh.read(CHUNK):
        copied += len(chunk)
        if copied > limits.max_input_bytes:
            raise InputTooLargeError(copied, limits.max_input_bytes, " of Parquet")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _parquet_columns(schema, source: dict[str, Any]) -> list[str]:
    """The columns a Parquet source needs: the text, url / date / id when present and flat,
    and the extra fields the source names (nested ones too: they were asked for). Other
    columns are never decoded, however large or deeply nested they are."""
    import pyarrow as pa

    cols = [source.get("text_field", "text")]
    for field in (source.get("url_field", "url"), source.get("date_field", "date"),
                  source.get("id_field") or "id"):
        if field in schema.names and field not in cols and not pa.types.is_nested(schema.field(field).type):
            cols.append(field)
    for field in source.get("extra_fields") or ():
        if field in schema.names and field not in cols:
            cols.append(field)
    return cols


def _parquet_text_problem(schema, text_field: str) -> str | None:
    """Why the text column cannot be read as text, if it cannot."""
    import pyarrow as pa

    if text_field not in schema.names:
        return f"has no column {text_field!r} (set text_field in the source config)"
    t = schema.field(text_field).type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return None
    return f"column {text_field!r} is {t}, not a string column (set text_field to a text column)"


def _row_group_bytes(rg_meta, columns: list[str]) -> int:
    """Uncompressed bytes of ``columns`` in one row group, from the footer."""
    wanted = set(columns)
    return sum(rg_meta.column(i).total_uncompressed_size for i in range(rg_meta.num_columns)
               if rg_meta.column(i).path_in_schema in wanted
               or rg_meta.column(i).path_in_schema.split(".", 1)[0] in wanted)  # nested leaves


def _text_array(batch, text_field: str):
    """The text column as plain (large) strings, whatever its Arrow encoding."""
    import pyarrow as pa

    col = batch.column(text_field)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_string_view(col.type):
        col = col.cast(pa.large_string())
    return col


def _parquet_batch(batch, first_row: int, uri: str, source: dict[str, Any],
                   limits: ReadLimits) -> Iterator[Outcome]:
    """Outcomes of one batch. Text sizes are checked with Arrow compute on the batch: a value
    over ``max_record_bytes`` is nulled out before ``to_pylist``, so it never becomes a str."""
    import pyarrow as pa
    import pyarrow.compute as pc

    name = source["name"]
    text_field = source.get("text_field", "text")
    text = _text_array(batch, text_field)
    sizes = pc.binary_length(text)
    over = pc.fill_null(pc.greater(sizes, limits.max_record_bytes), False)
    big = over.to_pylist() if pc.any(over).as_py() else None
    if big:
        sizes_list = sizes.to_pylist()
        text = pc.if_else(over, pa.scalar(None, text.type), text)
    texts = text.to_pylist()
    names = batch.schema.names
    url_field, date_field = source.get("url_field", "url"), source.get("date_field", "date")
    urls = batch.column(url_field).to_pylist() if url_field in names else [None] * len(texts)
    dates = batch.column(date_field).to_pylist() if date_field in names else [None] * len(texts)
    id_field = source.get("id_field") or "id"
    lineage_cols = {f: batch.column(f).to_pylist()
                    for f in {id_field, *(source.get("extra_fields") or ())} if f in names}
    for i, value in enumerate(texts):
        row_no = first_row + i
        pointer = f"row:{row_no}"
        if big and big[i]:
            yield "quarantine", quarantine_row(name, uri, pointer, RecordTooLargeError.__name__,
                                               _record_too_large(
                                                   f"row {row_no} of {text_field!r} is "
                                                   f"{sizes_list[i]:,} bytes",
                                                   limits.max_record_bytes))
        elif value is None:
            yield "quarantine", quarantine_row(name, uri, pointer, "MissingFieldError",
                                               f"row {row_no} has no text in {text_field!r}")
        else:
            lin = lineage(source, lambda f: lineage_cols[f][i] if f in lineage_cols else _ABSENT)
            problem = _lineage_problem(lin, value, 4 * len(value), f"row {row_no}", limits)
            if problem:
                yield "quarantine", quarantine_row(name, uri, pointer,
                                                   RecordTooLargeError.__name__, problem)
                continue
            row = _provenance(source, uri, pointer, urls[i], dates[i], lin)
            row["raw_text"] = value
            yield "record", row


def _parquet_rows(pf, uri: str, source: dict[str, Any], limits: ReadLimits) -> Iterator[Outcome]:
    """Outcomes of every row, row group by row group, in batches of about
    PARQUET_BATCH_BYTES; stops with one quarantine row at damage or past max_input_bytes."""
    name = source["name"]
    columns = _parquet_columns(pf.schema_arrow, source)
    n = inflated = 0
    for rg in range(pf.num_row_groups):
        meta = pf.metadata.row_group(rg)
        size = _row_group_bytes(meta, columns)
        inflated += size
        if inflated > limits.max_input_bytes:
            exc = InputTooLargeError(inflated, limits.max_input_bytes, f" by row group {rg}")
            log.warning("%s: %s", uri, exc)
            yield "quarantine", quarantine_row(name, uri, f"row:{n}", exc, f"{uri}: {exc}")
            return
        batch_rows = max(1, min(65_536, PARQUET_BATCH_BYTES * max(meta.num_rows, 1) // max(size, 1)))
        batches = pf.iter_batches(batch_size=batch_rows, row_groups=[rg], columns=columns,
                                  use_threads=False)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - a damaged page: quarantine and stop
                yield "quarantine", quarantine_row(
                    name, uri, f"row:{n}", exc, f"{uri} cannot be read from row {n} on "
                    f"({type(exc).__name__}: {exc}); rows before it were kept")
                return
            yield from _parquet_batch(batch, n, uri, source, limits)
            n += batch.num_rows


def read_parquet(fh: BinaryIO, uri: str, source: dict[str, Any]) -> Iterator[Outcome]:
    """Records from a Parquet file, batch by batch, decoding only the columns it needs;
    a text over ``max_record_bytes`` is quarantined without becoming a Python string."""
    import pyarrow.parquet as pq

    limits = ReadLimits.of(source)
    name = source["name"]
    with ExitStack() as stack:
        try:
            pf = pq.ParquetFile(_seekable(fh, limits, stack))
            stack.callback(pf.close)
            problem = _parquet_text_problem(pf.schema_arrow, source.get("text_field", "text"))
        except InputTooLargeError as exc:
            yield "quarantine", quarantine_row(name, uri, "file", exc, f"{uri}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - any parse failure is a quarantine case
            yield "quarantine", quarantine_row(name, uri, "file", exc,
                                               f"{uri} is not a readable Parquet file: {exc}")
            return
        if problem:
            yield "quarantine", quarantine_row(name, uri, "file", "MissingFieldError",
                                               f"{uri} {problem}")
            return
        if pf.metadata.num_rows == 0:
            yield "quarantine", quarantine_row(name, uri, "file", EmptyInputError.__name__,
                                               f"{uri} holds no rows")
            return
        yield from _parquet_rows(pf, uri, source, limits)


def html_to_text(html: str, url: str | None = None) -> str | None:
    """Main text of an HTML page (trafilatura), without menus and boilerplate."""
    import trafilatura

    return trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                               favor_precision=True)


def read_warc(fh: BinaryIO, uri: str, source: dict[str, Any]) -> Iterator[Outcome]:
    """Documents from WARC (HTML responses, extracted) or WET (conversion records) files.

    Each record's payload is read up to ``max_record_bytes``; the records' declared lengths
    together are bounded by ``max_input_bytes``."""
    from warcio.archiveiterator import ArchiveIterator

    limits = ReadLimits.of(source)
    name = source["name"]
    decode = source_decoder(source)
    seen = inflated = 0
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
        inflated += rec.length or 0
        if inflated > limits.max_input_bytes:
            seen += 1
            exc = InputTooLargeError(inflated, limits.max_input_bytes, f" at offset {it.offset}")
            log.warning("%s: %s", uri, exc)
            yield "quarantine", quarantine_row(name, uri, f"offset:{it.offset}", exc, f"{uri}: {exc}")
            break
        if rec.rec_type not in ("response", "conversion"):
            continue
        seen += 1
        rid = rec.rec_headers.get_header("WARC-Record-ID") or f"offset:{it.offset}"
        url = rec.rec_headers.get_header("WARC-Target-URI")
        date = rec.rec_headers.get_header("WARC-Date")
        try:
            yield from _warc_record(rec, name, uri, rid, url, date, source, decode, limits)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the file
            yield "quarantine", quarantine_row(name, uri, rid, exc,
                                               f"WARC record {rid} could not be parsed: {exc}")
    if seen == 0:
        yield "quarantine", quarantine_row(name, uri, "file", EmptyInputError.__name__,
                                           f"{uri} holds no response or conversion records")


def _warc_payload(rec, bound: int) -> bytes | None:
    """A record's payload, or None if it is over ``bound`` bytes (only bound + 1 are read;
    the iterator skips the rest as a stream)."""
    payload = rec.content_stream().read(bound + 1)
    return None if len(payload) > bound else payload


def _warc_header(rec, name: str) -> Any:
    """A named header of a WARC record: its WARC header, else its HTTP header."""
    value = rec.rec_headers.get_header(name)
    if value is None and rec.http_headers is not None:
        value = rec.http_headers.get_header(name)
    return _ABSENT if value is None else value


def _warc_record(rec, name: str, uri: str, rid: str, url: str | None, date: str | None,
                 source: dict[str, Any], decode, limits: ReadLimits) -> Iterator[Outcome]:
    from filters.normalize import TextDecodeError

    max_record_bytes = limits.max_record_bytes
    id_field = source.get("id_field") or "id"
    lin = lineage(source, lambda h: _warc_header(rec, h),
                  id_field="WARC-Record-ID" if id_field == "id" else id_field)
    problem = _lineage_problem(lin, None, 0, f"WARC record {rid}", limits)
    if problem:
        yield "quarantine", quarantine_row(name, uri, rid, RecordTooLargeError.__name__, problem)
        return
    if rec.rec_type == "response":
        if rec.http_headers is None or not rec.http_headers.get_statuscode():
            raise ValueError("missing or broken HTTP header block")
        status = rec.http_headers.get_statuscode()
        ctype = (rec.http_headers.get_header("Content-Type") or "").lower()
        if not status.isdigit():
            raise ValueError(f"broken HTTP status line {status!r}")
        if "html" not in ctype and "text" not in ctype:
            yield "quarantine", quarantine_row(name, uri, rid, "UnsupportedContentError",
                                               f"WARC record {rid} is {ctype or 'untyped'}, not HTML")
            return
    payload = _warc_payload(rec, max_record_bytes)
    if payload is None:
        yield "quarantine", quarantine_row(
            name, uri, rid, RecordTooLargeError.__name__, _record_too_large(
                f"the payload of WARC record {rid} is more than {max_record_bytes:,} bytes "
                f"(its block declares {rec.length or 0:,})", max_record_bytes))
        return
    if rec.rec_type == "response":
        text = html_to_text(payload.decode("utf-8", errors="replace"), url)
        if not text:
            yield "quarantine", quarantine_row(name, uri, rid, "ExtractionError",
                                               f"no main text found in {url or rid}", raw=payload)
            return
    else:
        try:
            text = decode(payload)
        except TextDecodeError as exc:
            yield "quarantine", quarantine_row(name, uri, rid, exc, raw=payload)
            return
    problem = _lineage_problem(lin, text, 4 * len(text), f"WARC record {rid}", limits)
    if problem:
        yield "quarantine", quarantine_row(name, uri, rid, RecordTooLargeError.__name__, problem)
        return
    row = _provenance(source, uri, rid, url, date, lin)
    row["raw_text"] = text
    yield "record", row


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "warc": read_warc}
