"""Readers of the image modality: one input -> image records or quarantine rows, never raising.

- ``image_folder``: the input is one image; its caption is a sidecar beside it (``x.txt``,
  else ``x.json`` with the caption, license, url and the source's ``extra_fields``).
- ``image_list``: the input is a list (JSONL, optionally .gz/.zst; CSV/TSV; Parquet) with one
  image per row, named by a path (relative to the list, absolute, or ``store:KEY``) or a URL
  fetched politely (pipelines/image/fetch.py: robots.txt, X-Robots-Tag noai, per-host limits).
- ``webdataset``: the input is a tar of samples (``KEY.jpg`` + ``KEY.txt`` / ``KEY.json``).

A record carries the encoded bytes (``image_bytes``), the raw caption and where it came from
(``caption_origin``); decoding happens in the annotator. An image an opt-out forbids (robots.txt,
``X-Robots-Tag: noai``) is never fetched: it becomes a record without bytes and an
``optout:`` reason, so the run counts it as rejected. A fetch that failed is quarantined with
the fetcher's reason in the error class (``FetchError.http_404``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from pipelines.records import quarantine_row, record_id

Outcome = tuple[str, dict[str, Any]]
OPTOUT_REASONS = {"robots_disallowed": "optout:robots_txt", "x_robots_noai": "optout:x_robots_tag"}
LIST_CHUNK = 256  # list rows handled (and URLs fetched concurrently) at a time


class ImageTooLargeError(ValueError):
    """An encoded image is over the source's max_image_bytes."""


class SidecarError(ValueError):
    """A caption sidecar or list row that cannot be read."""


def _extra(source: dict[str, Any], row: dict[str, Any]) -> str | None:
    names = source.get("extra_fields") or []
    if not names:
        return None
    return json.dumps({n: row[n] for n in names if n in row}, ensure_ascii=False, sort_keys=True)


def _source_id(source: dict[str, Any], row: dict[str, Any]) -> str | None:
    value = row.get(source.get("id_field") or "id")
    return None if value is None else str(value)


def image_record(source: dict[str, Any], uri: str, pointer: str, image: bytes | None, caption: str | None,
                 origin: str, meta: dict[str, Any] | None = None, *, member: str | None = None,
                 url: str | None = None, reasons: list[str] | None = None) -> dict[str, Any]:
    """A read image record (before decoding)."""
    meta = meta or {}
    lic = meta.get(source.get("license_field") or "license")
    date = meta.get(source.get("date_field") or "date")
    return {"id": record_id(source["name"], uri, pointer), "source": source["name"], "uri": uri,
            "pointer": pointer, "member": member, "url": url or meta.get(source.get("url_field") or "url"),
            "crawl_date": None if date is None else str(date),
            "license": str(lic) if lic else source.get("license", "unknown"),
            "source_id": _source_id(source, meta), "extra": _extra(source, meta),
            "image_bytes": image, "caption_raw": caption, "caption_origin": origin,
            "read_reasons": reasons or []}


def _read_bounded(fh: BinaryIO, limit: int) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"image larger than max_image_bytes={limit}; raise the source's "
                                 "max_image_bytes if such images are wanted")
    return data


def _caption_of(meta: dict[str, Any], source: dict[str, Any]) -> str | None:
    value = meta.get(source.get("caption_field") or "caption")
    return None if value is None else str(value)


def _sidecar(opener, source: dict[str, Any]) -> tuple[str | None, str, dict[str, Any]]:
    """(caption, origin, metadata) from ``x.txt`` or ``x.json`` beside the image."""
    txt = opener.read(opener.sibling(".txt"), 1024 * 1024)
    if txt is not None:
        try:
            return txt.decode("utf-8").strip(), "sidecar_txt", {}
        except UnicodeDecodeError as exc:
            raise SidecarError(f"{opener.sibling('.txt')} is not UTF-8 text ({exc.reason}); save "
                               "the caption as UTF-8") from None
    raw = opener.read(opener.sibling(".json"), 1024 * 1024)
    if raw is None:
        return None, "none", {}
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise SidecarError(f"{opener.sibling('.json')} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise SidecarError(f"{opener.sibling('.json')} must hold a JSON object")
    return _caption_of(meta, source), "sidecar_json", meta


def read_image_folder(fh: BinaryIO, uri: str, source: dict[str, Any], opener=None) -> Iterator[Outcome]:
    """One image file and its caption sidecar -> one record (or a quarantine row)."""
    try:
        data = _read_bounded(fh, int(source.get("max_image_bytes", 50 * 1024 * 1024)))
        caption, origin, meta = _sidecar(opener, source) if opener is not None else (None, "none", {})
    except (ImageTooLargeError, SidecarError, OSError, ValueError) as exc:
        yield "quarantine", quarantine_row(source["name"], uri, "file", exc)
        return
    yield "record", image_record(source, uri, "file", data, caption, origin, meta)


read_image_folder.uses_opener = True  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ lists

def _list_kind(uri: str) -> str:
    name = uri.lower()
    for suffix in (".gz", ".zst"):
        name = name.removesuffix(suffix)
    ext = os.path.splitext(name)[1]
    return {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv"}.get(ext, "jsonl")


def _decompressed(fh: BinaryIO, uri: str) -> BinaryIO:
    if uri.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=fh)
    if uri.lower().endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(fh)
    return fh


def _list_rows(fh: BinaryIO, uri: str) -> Iterator[tuple[str, dict[str, Any] | Exception]]:
    """(pointer, row or the error that row raised) for each row of a list file."""
    kind = _list_kind(uri)
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = 0
        for batch in pq.ParquetFile(pa.BufferReader(fh.read())).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                n += 1
                yield f"row:{n}", row
        return
    text = io.TextIOWrapper(_decompressed(fh, uri), encoding="utf-8", newline="")
    if kind in ("csv", "tsv"):
        reader = csv.DictReader(text, delimiter="," if kind == "csv" else "\t")
        for n, row in enumerate(reader, start=1):
            yield f"row:{n}", {k: (v if v != "" else None) for k, v in row.items() if k is not None}
        return
    for n, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise SidecarError("a list line must be a JSON object")
        except ValueError as exc:
            yield f"line:{n}", SidecarError(f"line {n} is not a JSON object: {exc}")
            continue
        yield f"line:{n}", row


def _fetch_error(source: dict[str, Any], uri: str, pointer: str, url: str, result) -> dict[str, Any]:
    return quarantine_row(source["name"], uri, pointer, f"FetchError.{result.reason}",
                          f"{url}: {result.message}")


def _resolve_chunk(chunk: list[tuple[str, dict[str, Any] | Exception]], uri: str, source: dict[str, Any],
                   opener, fetcher) -> Iterator[Outcome]:
    """A chunk of list rows -> outcomes in row order; the chunk's URLs are fetched concurrently."""
    path_f, url_f = source.get("path_field") or "path", source.get("url_field") or "url"
    limit = int(source.get("max_image_bytes", 50 * 1024 * 1024))
    urls = [row.get(url_f) for _, row in chunk
            if isinstance(row, dict) and not row.get(path_f) and row.get(url_f)]
    fetched = iter(fetcher.fetch_many([str(u) for u in urls]) if urls else [])
    for pointer, row in chunk:
        if isinstance(row, Exception):
            yield "quarantine", quarantine_row(source["name"], uri, pointer, row)
            continue
        caption = _caption_of(row, source)
        origin = "list" if caption is not None else "none"
        try:
            if row.get(path_f):
                data = opener.read(str(row[path_f]), limit)
                if data is None:
                    raise FileNotFoundError(f"{row[path_f]} named by the list does not exist")
                yield "record", image_record(source, uri, pointer, data, caption, origin, row)
            elif row.get(url_f):
                result = next(fetched)
                if result.ok:
                    yield "record", image_record(source, uri, pointer, result.content, caption, origin, row,
                                                 url=result.url)
                elif result.reason in OPTOUT_REASONS:
                    yield "record", image_record(source, uri, pointer, None, caption, origin, row,
                                                 url=result.url, reasons=[OPTOUT_REASONS[result.reason]])
                else:
                    yield "quarantine", _fetch_error(source, uri, pointer, str(row[url_f]), result)
            else:
                raise SidecarError(f"row names neither {path_f!r} nor {url_f!r}; set the source's "
                                   "path_field / url_field to the list's column names")
        except (ImageTooLargeError, SidecarError, OSError, ValueError) as exc:
            yield "quarantine", quarantine_row(source["name"], uri, pointer, exc)


def read_image_list(fh: BinaryIO, uri: str, source: dict[str, Any], opener=None) -> Iterator[Outcome]:
    """A list of images (paths or URLs with captions) -> one outcome per row, in order."""
    from pipelines.image.fetch import FetchSettings, PoliteFetcher

    chunk: list[tuple[str, dict[str, Any] | Exception]] = []
    # One fetcher per list (robots.txt cached per host); closed with the list, threads included.
    with PoliteFetcher(FetchSettings.model_validate(source.get("fetch") or {})) as fetcher:
        try:
            for item in _list_rows(fh, uri):
                chunk.append(item)
                if len(chunk) >= LIST_CHUNK:
                    yield from _resolve_chunk(chunk, uri, source, opener, fetcher)
                    chunk = []
        except Exception as exc:  # noqa: BLE001 - a broken list file: keep what was read, quarantine the rest
            yield from _resolve_chunk(chunk, uri, source, opener, fetcher)
            yield "quarantine", quarantine_row(source["name"], uri, f"after:{len(chunk)}", exc,
                                               f"the list cannot be read past this point: {exc}")
            return
        yield from _resolve_chunk(chunk, uri, source, opener, fetcher)


read_image_list.uses_opener = True  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- webdataset

def _split_key(name: str) -> tuple[str, str]:
    """WebDataset convention: the key is the path up to the first dot of the file name."""
    folder, base = os.path.split(name)
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _sample_outcome(key: str, members: dict[str, bytes], names: dict[str, str], uri: str,
                    source: dict[str, Any]) -> Outcome:
    image_exts = [e.lstrip(".").lower() for e in source.get("image_extensions") or []]
    ext = next((e for e in image_exts if e in members), None)
    pointer = f"tar:{key}"
    if ext is None:
        return "quarantine", quarantine_row(source["name"], uri, pointer, "NoImageInSample",
                                            f"sample {key!r} has no image member (has: {sorted(members)})")
    caption, origin, meta = None, "none", {}
    try:
        if "txt" in members:
            caption, origin = members["txt"].decode("utf-8").strip(), "wds_txt"
        elif "json" in members:
            meta = json.loads(members["json"])
            meta = meta if isinstance(meta, dict) else {}
            caption = _caption_of(meta, source)
            origin = "wds_json" if caption is not None else "none"
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        return "quarantine", quarantine_row(source["name"], uri, pointer, SidecarError(
            f"sample {key!r}: its caption member cannot be read: {exc}"))
    return "record", image_record(source, uri, pointer, members[ext], caption, origin, meta,
                                  member=names[ext])


def read_webdataset(fh: BinaryIO, uri: str, source: dict[str, Any], opener=None) -> Iterator[Outcome]:
    """A WebDataset tar -> one outcome per sample (members sharing a key are adjacent)."""
    limit = int(source.get("max_image_bytes", 50 * 1024 * 1024))
    key, members, names = None, {}, {}
    try:
        with tarfile.open(fileobj=fh, mode="r|*") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                k, ext = _split_key(info.name)
                if k != key and key is not None:
                    yield _sample_outcome(key, members, names, uri, source)
                    members, names = {}, {}
                key = k
                if info.size > limit:
                    yield "quarantine", quarantine_row(source["name"], uri, f"tar:{k}", ImageTooLargeError(
                        f"member {info.name} is {info.size} bytes, above max_image_bytes={limit}"))
                    continue
                extracted = tar.extractfile(info)
                members[ext] = extracted.read() if extracted else b""
                names[ext] = info.name
    except (tarfile.TarError, OSError, EOFError) as exc:
        if key is not None and members:
            yield _sample_outcome(key, members, names, uri, source)
        yield "quarantine", quarantine_row(source["name"], uri, f"after:{key}", exc,
                                           f"the tar cannot be read past sample {key!r}: {exc}")
        return
    if key is not None and members:
        yield _sample_outcome(key, members, names, uri, source)


READERS = {"image_folder": read_image_folder, "image_list": read_image_list, "webdataset": read_webdataset}
