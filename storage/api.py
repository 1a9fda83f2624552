"""The training teams' entry points: open a dataset version with the tools they already use.

    from storage.api import open_dataset, shard_urls
    ds = open_dataset("s3://kho/prod", "vi-text", "v3", filter="lang = 'vi'")
    table = ds.to_table(columns=["text", "lang_score"])
    urls = shard_urls("s3://kho/prod", "vi-text")                      # the Parquet shards
    tars = shard_urls("s3://kho/prod", "vi-image", modality="image")  # for webdataset.WebDataset
"""

from __future__ import annotations

import pyarrow.dataset as pads

from storage.base import ObjectStore
from storage.uri import open_store
from storage.versions import PRIMARY_FORMATS, VersionRef, VersionStore
from storage.where import parse_where


def _versions(store: ObjectStore | str | None) -> VersionStore:
    return VersionStore(store if isinstance(store, ObjectStore) else open_store(store))


def open_dataset(store: ObjectStore | str | None, dataset: str, ref: str = "latest", *,
                 modality: str | None = None, filter: str | None = None) -> pads.Dataset:
    """A lazy pyarrow dataset over the version's Parquet shards (not the tar indexes).

    Reads the manifest and shard lists only, never lists the bucket. ``filter`` takes the
    same SQL-like text as ``kho pull --where``.
    """
    vs = _versions(store)
    manifest = vs.manifest(VersionRef(dataset, ref))
    fs, root = vs.store.arrow_filesystem()
    paths = [f"{root}/{s.key}" for s in vs.shards(manifest, modality) if s.format == "parquet"]
    dataset_ = pads.dataset(paths, format="parquet", filesystem=fs)
    return dataset_.filter(parse_where(filter)) if filter else dataset_


def shard_urls(store: ObjectStore | str | None, dataset: str, ref: str = "latest", *,
               modality: str | None = None, fmt: str | None = None,
               expires_s: int = 24 * 3600) -> list[str]:
    """URLs of the version's data shards: presigned HTTP on S3, file paths locally.

    ``fmt`` ("parquet" or "webdataset") defaults to the format the version's shards (of
    ``modality``, if given) are in: Parquet for text, tar shards for webdataset. A version
    holding both (text and image, say) needs ``modality=`` or ``fmt=`` to say which."""
    vs = _versions(store)
    manifest = vs.manifest(VersionRef(dataset, ref))
    shards = list(vs.shards(manifest, modality))
    if fmt is None:
        found = sorted({s.format for s in shards if s.format in PRIMARY_FORMATS})
        if len(found) > 1:
            modalities = sorted({s.modality for s in shards})
            raise ValueError(
                f"{dataset}@{manifest.version} has {' and '.join(found)} shards: pass fmt= "
                f"({', '.join(found)}) or modality= ({', '.join(modalities)}) to say which")
        fmt = found[0] if found else "parquet"
    return [vs.store.url(s.key, expires_s) for s in shards if s.format == fmt]
