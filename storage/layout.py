"""Every object key Kho writes, built in one place (same keys on a local folder and on S3).

    datasets/<name>/versions/<version>.json        manifest: the commit point, never rewritten
    datasets/<name>/refs/<ref>                      "<version> <manifest root>" (conveniences)
    datasets/<name>/committed/<version>=<run>       empty: which run made each version (a listing
                                                    tells an ingest every committed run)
    datasets/<name>/shardlists/<run>-<n>.parquet    shard lists, named by the run that wrote them
    datasets/<name>/shards/<modality>/<run>/...     shards
    runs/<run>/                                     run.json, stats, report, run tables
    ledger/<name>/<source>/<uri-hash>.json          inputs already ingested
    index/<name>/runs/<run>/                        dedup index shards + shards.json of one run
    leases/<name>/runs/<run>.json                   a live run's lease (heartbeat)
    leases/<name>/inputs/<unit>.json                an input claimed by a live run
    crawls/<name>/<source>/{warc,runs,ledger}/      kho crawl: WARC parts, summaries, crawl ledger

Before its commit point a run writes only keys that carry its own run id, so nothing it
writes can collide with another run; the one shared key it creates is its version's manifest,
with a conditional create. ``gc`` walks :data:`GC_PREFIXES` and tells a key's run by
:func:`run_id_of`.
"""

from __future__ import annotations

import hashlib
import re

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: Run ids: ``YYYYmmddTHHMMSSZ-<8 hex>`` (see pipelines.ingest.new_run_id).
RUN_ID_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")


def check_name(kind: str, value: str) -> str:
    """Validate a dataset, version or ref name (they become object keys)."""
    if not _NAME_RE.match(value):
        raise ValueError(f"invalid {kind} name {value!r}: use letters, digits, '.', '_' or '-' "
                         "(at most 128, starting with a letter or digit)")
    return value


def dataset_prefix(dataset: str) -> str:
    return f"datasets/{check_name('dataset', dataset)}"


def manifest_key(dataset: str, version: str) -> str:
    return f"{dataset_prefix(dataset)}/versions/{version}.json"


def versions_prefix(dataset: str) -> str:
    return f"{dataset_prefix(dataset)}/versions"


def committed_prefix(dataset: str) -> str:
    """Empty markers ``<version>=<run>``, one per version, written after its commit point, so
    that the runs that committed are one listing of names, not a read of every manifest."""
    return f"{dataset_prefix(dataset)}/committed"


def committed_marker_key(dataset: str, version: str, run_id: str) -> str:
    return f"{committed_prefix(dataset)}/{check_name('version', version)}={run_id}"


def ref_key(dataset: str, ref: str) -> str:
    return f"{dataset_prefix(dataset)}/refs/{check_name('ref', ref)}"


def shard_prefix(dataset: str, modality: str, run_id: str) -> str:
    """Where one run writes its shards of one modality."""
    return f"{dataset_prefix(dataset)}/shards/{modality}/{run_id}"


def shardlist_key(dataset: str, run_id: str, n: int, tag: str = "") -> str:
    """A shard list written by ``run_id`` (``tag`` tells apart lists of a retried commit)."""
    return f"{dataset_prefix(dataset)}/shardlists/{run_id}{tag}-{n:04d}.parquet"


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}"


def run_info_key(run_id: str) -> str:
    """Written first by every run: which dataset it is for, when and where it started."""
    return f"{run_prefix(run_id)}/run.json"


def ledger_key(dataset: str, source: str, uri: str) -> str:
    """One input's ledger entry: per dataset, since two datasets may read the same source."""
    return f"ledger/{dataset}/{source}/{hashlib.sha256(uri.encode()).hexdigest()[:32]}.json"


def index_prefix(dataset: str) -> str:
    """Where a dataset's dedup index lives."""
    return f"index/{dataset}"


def index_run_prefix(dataset: str, run_id: str) -> str:
    return f"{index_prefix(dataset)}/runs/{run_id}"


def index_run_list_key(dataset: str, run_id: str) -> str:
    """The list of one run's index shards (read instead of LISTing the prefix)."""
    return f"{index_run_prefix(dataset, run_id)}/shards.json"


def leases_prefix(dataset: str) -> str:
    return f"leases/{check_name('dataset', dataset)}"


def run_lease_key(dataset: str, run_id: str) -> str:
    return f"{leases_prefix(dataset)}/runs/{run_id}.json"


def input_claim_key(dataset: str, unit_id: str) -> str:
    return f"{leases_prefix(dataset)}/inputs/{unit_id}.json"


def gc_prefixes(dataset: str) -> tuple[str, ...]:
    """The per-dataset prefixes gc walks (``runs/`` and ``ledger/`` are shared: see gc)."""
    return (f"{dataset_prefix(dataset)}/shards/", f"{dataset_prefix(dataset)}/shardlists/",
            f"{index_prefix(dataset)}/", f"{leases_prefix(dataset)}/")


def gc_checkpoint_key(dataset: str) -> str:
    """gc's record of one dataset: versions and shard lists already read, committed runs, runs
    already swept (storage/gc.py), so each gc reads only what changed since the last one."""
    return f"gc/{check_name('dataset', dataset)}/checkpoint.json"


_SHARDLIST_NAME_RE = re.compile(r"^(?P<run>.+?)(?:-v\d+)?-\d{4,}\.parquet$")


def shardlist_owner(key: str) -> str | None:
    """The run that wrote the shard list ``key`` (see :func:`shardlist_key`), or None."""
    m = _SHARDLIST_NAME_RE.match(key.rsplit("/", 1)[-1])
    return m.group("run") if m else None


def run_id_of(key: str) -> str | None:
    """The run whose id a key carries, or None (manifests, refs, ledger entries)."""
    m = RUN_ID_RE.search(key)
    return m.group(0) if m else None


def review_summary_key(run_id: str) -> str:
    """The review app's exported figures of one run (review/export.py writes it)."""
    return f"{run_prefix(run_id)}/review/summary.json"


def datasheet_prefix(dataset: str, version: str) -> str:
    """Where a version's datasheet lies: ``datasheet.json``, ``README.md`` (a Hugging Face
    dataset card), ``datasheet.html`` and ``scan-<modality>.npz`` (the scans the next version's
    datasheet starts from). Outside :func:`gc_prefixes`, so gc never sweeps it."""
    return f"{dataset_prefix(dataset)}/cards/{check_name('version', version)}"


def crawl_prefix(dataset: str, source: str) -> str:
    """Everything ``kho crawl`` keeps for one source of one dataset (docs/crawl.md)."""
    return f"crawls/{check_name('dataset', dataset)}/{check_name('source', source)}"


def crawl_warc_prefix(dataset: str, source: str) -> str:
    """The folder holding only WARC parts, so an ingest source ``store:<this>/`` reads nothing
    else (summaries, media lists and the crawl ledger lie beside it, not under it)."""
    return f"{crawl_prefix(dataset, source)}/warc"


def crawl_part_key(dataset: str, source: str, crawl_id: str, n: int) -> str:
    """One uploaded WARC part of one crawl (never rewritten)."""
    return f"{crawl_warc_prefix(dataset, source)}/{crawl_id}/part-{n:05d}.warc.gz"


def crawl_run_prefix(dataset: str, source: str, crawl_id: str) -> str:
    """One crawl's own objects: ``crawl.json`` (its summary), ``crawl.log`` and ``media-<n>.jsonl``."""
    return f"{crawl_prefix(dataset, source)}/runs/{crawl_id}"


def crawl_media_key(dataset: str, source: str, crawl_id: str, n: int) -> str:
    """The media URLs (image/audio/video) seen in the pages of WARC part ``n``."""
    return f"{crawl_run_prefix(dataset, source, crawl_id)}/media-{n:05d}.jsonl"


def crawl_ledger_key(dataset: str, source: str, url: str) -> str:
    """The crawl ledger entry of one canonical URL: what was last written for it."""
    return f"{crawl_prefix(dataset, source)}/ledger/{hashlib.sha256(url.encode()).hexdigest()[:32]}.json"
