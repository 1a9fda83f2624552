"""Beam transforms every modality's pipeline shares: read work units into records or
quarantine, drop exact duplicates, write tables as shards, fold run statistics.

They run unchanged on the FnApiRunner, Flink, Spark or Dataflow: no driver state, work
keyed and grouped through Beam, models and stores opened once per worker in ``setup``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa

from pipelines import stats as run_stats
from pipelines.readers import READERS
from pipelines.records import quarantine_row
from storage.base import ObjectStore
from storage.shards import ParquetShardWriter, WebDatasetShardWriter

log = logging.getLogger(__name__)

RECORDS, QUARANTINE, INPUTS = "records", "quarantine", "inputs"


class InputOpener:
    """Reads files that belong with a work unit's input: a sidecar beside it (``x.txt`` next
    to ``x.jpg``) or a file a list row names. A name is relative to the input's folder (local
    or in the store), an absolute local path, or ``store:KEY``. Readers that need it say so
    with a ``uses_opener = True`` attribute and get it as ``opener=``."""

    def __init__(self, store: ObjectStore, unit: dict[str, Any]) -> None:
        self.store, self.unit = store, unit

    def locate(self, name: str) -> tuple[str, str]:
        """("local" | "store", path or key) of ``name``."""
        if name.startswith("store:"):
            return "store", name[len("store:"):]
        if self.unit["location"] == "local":
            return "local", os.path.join(os.path.dirname(self.unit["path"]), name)
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"{name!r}: a name beside a store input must stay inside its prefix")
        folder = self.unit["path"].rsplit("/", 1)[0] if "/" in self.unit["path"] else ""
        return "store", f"{folder}/{name}" if folder else name

    def sibling(self, suffix: str) -> str:
        """The name of the file beside the input with its extension replaced by ``suffix``."""
        base = os.path.basename(self.unit["path"])
        stem = base.rsplit(".", 1)[0] if "." in base else base
        return stem + suffix

    def read(self, name: str, max_bytes: int) -> bytes | None:
        """The file's bytes (None when it does not exist); over ``max_bytes`` raises ValueError."""
        from storage.errors import ObjectNotFoundError

        where, path = self.locate(name)
        try:
            fh = open(path, "rb") if where == "local" else self.store.open_read(path)
        except (FileNotFoundError, NotADirectoryError, ObjectNotFoundError):
            return None
        with fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ValueError(f"{name}: larger than {max_bytes} bytes")
        return data


class _ReadUnit(beam.DoFn):
    """Read one work unit; every outcome is a record or a quarantine row.

    The reader gets the source's bounds from the source dict (pipelines.readers.ReadLimits).
    An input that cannot be opened (gone since planning, unreadable, a broken or looping
    symlink the planner kept so that it is counted) is one quarantine row."""

    def __init__(self, store: ObjectStore, progress_dir: str | None,
                 readers: dict[str, Callable] | None = None) -> None:
        self.store, self.progress_dir = store, progress_dir
        self.readers = readers if readers is not None else READERS

    def process(self, unit: dict[str, Any]):
        from storage.errors import ObjectNotFoundError  # an object deleted since planning

        source = unit["source"]
        reader = self.readers[source["format"]]
        n = 0
        try:
            fh = open(unit["path"], "rb") if unit["location"] == "local" else self.store.open_read(unit["path"])
        except (OSError, ObjectNotFoundError) as exc:
            n += 1
            yield beam.pvalue.TaggedOutput(QUARANTINE, self._open_failure(unit, exc))
        else:
            extra = {"opener": InputOpener(self.store, unit)} if getattr(reader, "uses_opener", False) else {}
            with fh:
                for kind, row in reader(fh, unit["uri"], source, **extra):
                    n += 1
                    yield beam.pvalue.TaggedOutput(RECORDS if kind == "record" else QUARANTINE, row)
        yield beam.pvalue.TaggedOutput(INPUTS, {"kind": "input", "source": source["name"], "n": n})
        if self.progress_dir:
            Path(self.progress_dir, f"{unit['unit_id']}.done").write_text(str(n))

    @staticmethod
    def _open_failure(unit: dict[str, Any], exc: Exception) -> dict[str, Any]:
        """The quarantine row of an input that cannot be opened; a broken link says so."""
        name, uri, path = unit["source"]["name"], unit["uri"], unit["path"]
        if unit["location"] == "local" and os.path.islink(path) and not os.path.exists(path):
            return quarantine_row(name, uri, "file", "BrokenLinkError",
                                  f"{path} is a symbolic link to {os.readlink(path)!r}, which "
                                  "does not exist or loops; fix or remove the link")
        return quarantine_row(name, uri, "file", exc, f"cannot open {uri}: {exc}; check that it "
                              "exists and is readable, then rerun")


class ReadUnits(beam.PTransform):
    """Work units -> tagged PCollections ``records``, ``quarantine`` and ``inputs`` (counts).

    ``readers``: source format -> reader (the modality's registry; default: the text readers)."""

    def __init__(self, store: ObjectStore, progress_dir: str | None = None,
                 readers: dict[str, Callable] | None = None) -> None:
        super().__init__()
        self.store, self.progress_dir, self.readers = store, progress_dir, readers

    def expand(self, units):
        return (units
                | "SpreadUnits" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(_ReadUnit(self.store, self.progress_dir, self.readers)).with_outputs(
                    RECORDS, QUARANTINE, INPUTS))


def keep_rule(record: dict[str, Any]) -> tuple[str, str]:
    """Which of a group of exact duplicates is kept: earliest crawl date, then smallest id
    (records without a date sort last)."""
    return (record.get("crawl_date") or "\uffff", record["id"])


class _DuplicatePairs(beam.DoFn):
    """One content hash's (rank, id) keys -> (duplicate id, kept id) for all but the best."""

    def process(self, element):
        _, keys = element
        keys = list(keys)
        if len(keys) < 2:
            return
        best = min(keys)[1]
        for _, rid in keys:
            if rid != best:
                yield rid, best


def _split_exact(element):
    """Records joined with their exact-duplicate decision (if any) -> unique or duplicates."""
    _, joined = element
    kept_of = list(joined["dup"])
    for rec in joined["rec"]:
        if kept_of:
            yield beam.pvalue.TaggedOutput("duplicates", {**rec, "dup_of": kept_of[0], "dup_kind": "exact"})
        else:
            yield rec


class ExactDedup(beam.PTransform):
    """Keep one record per ``content_hash`` by ``rule``; tag the rest ``duplicates`` with the
    id they duplicate.

    Only keys travel through the grouping by hash — (hash, (rank, id)) — so a text, image or
    video copied a million times makes one small group, not a million records under one
    key; the decisions are joined back to the records by id, which spreads evenly."""

    def __init__(self, rule: Callable[[dict[str, Any]], Any] = keep_rule) -> None:
        super().__init__()
        self.rule = rule

    def expand(self, records):
        rule = self.rule
        pairs = (records
                 | "KeyByHash" >> beam.Map(lambda r: (r["content_hash"], (rule(r), r["id"])))
                 | "GroupByHash" >> beam.GroupByKey()
                 | "DuplicatePairs" >> beam.ParDo(_DuplicatePairs()))
        return ({"rec": records | "RecordsById" >> beam.Map(lambda r: (r["id"], r)), "dup": pairs}
                | "JoinDecisions" >> beam.CoGroupByKey()
                | "SplitExact" >> beam.FlatMap(_split_exact).with_outputs("duplicates", main="unique"))


def bucket_of(record_id: str, buckets: int) -> int:
    """Deterministic writer bucket of a record."""
    return int(record_id[:8], 16) % buckets


class _WriteBucket(beam.DoFn):
    """One bucket's records -> Parquet shards, or WebDataset tars with their Parquet index
    when ``to_sample`` is given. A writer that fails is aborted (its spool file removed)
    before the error goes on to the runner."""

    def __init__(self, store: ObjectStore, prefix: str, schema: pa.Schema, modality: str,
                 target_bytes: int, row_group_rows: int, to_row: Callable[[dict], dict],
                 to_sample: Callable[[dict], tuple[str, dict[str, bytes], dict]] | None = None) -> None:
        self.store, self.prefix, self.schema, self.modality = store, prefix, schema, modality
        self.target_bytes, self.row_group_rows, self.to_row = target_bytes, row_group_rows, to_row
        self.to_sample = to_sample

    def process(self, element):
        bucket, rows = element
        tmp_dir, basename = os.environ.get("KHO_TMP_DIR"), f"part-{bucket:05d}"
        if self.to_sample is not None:
            writer = WebDatasetShardWriter(self.store, self.prefix, modality=self.modality,
                                           metadata_schema=self.schema, basename=basename,
                                           target_bytes=self.target_bytes, tmp_dir=tmp_dir)
        else:
            writer = ParquetShardWriter(self.store, self.prefix, self.schema, modality=self.modality,
                                        basename=basename, target_bytes=self.target_bytes,
                                        row_group_rows=self.row_group_rows, tmp_dir=tmp_dir)
        try:
            infos = self._write(writer, rows)
        except BaseException:
            writer.abort()
            raise
        for info in infos:
            yield info.to_dict()

    def _write(self, writer, rows) -> list:
        if self.to_sample is not None:
            for row in rows:
                key, members, metadata = self.to_sample(row)
                writer.write(key, members, metadata)
            return writer.close()
        batch: list[dict] = []
        for row in rows:
            batch.append(self.to_row(row))
            if len(batch) >= 1000:
                writer.write_rows(batch)
                batch = []
        writer.write_rows(batch)
        return writer.close()


class WriteTable(beam.PTransform):
    """Write records as Parquet shards under ``prefix``, ``buckets`` writers in parallel;
    outputs one ShardInfo dict per shard written. With ``to_sample`` (record -> (key, members
    by extension, metadata row of ``schema``)) the shards are WebDataset tars, each with its
    Parquet index."""

    def __init__(self, store: ObjectStore, prefix: str, schema: pa.Schema, *, modality: str,
                 buckets: int, target_bytes: int, row_group_rows: int = 20_000,
                 to_row: Callable[[dict], dict] | None = None,
                 to_sample: Callable[[dict], tuple[str, dict[str, bytes], dict]] | None = None) -> None:
        super().__init__()
        self.args = (store, prefix, schema, modality, target_bytes, row_group_rows,
                     to_row or (lambda r: r), to_sample)
        self.buckets = buckets

    def expand(self, records):
        buckets = self.buckets
        return (records
                | "KeyByBucket" >> beam.Map(lambda r: (bucket_of(r["id"], buckets), r))
                | "GroupByBucket" >> beam.GroupByKey()
                | "WriteShards" >> beam.ParDo(_WriteBucket(*self.args)))


class _StatsFn(beam.CombineFn):
    def create_accumulator(self):
        return run_stats.new_stats()

    def add_input(self, acc, event):
        return run_stats.add_event(acc, event)

    def merge_accumulators(self, accs: Iterable):
        return run_stats.merge(list(accs))

    def extract_output(self, acc):
        return run_stats.finish(acc)


class RunStats(beam.PTransform):
    """Fold input counts and outcome events into the run's statistics (one element)."""

    def expand(self, events):
        return events | "FoldStats" >> beam.CombineGlobally(_StatsFn())
