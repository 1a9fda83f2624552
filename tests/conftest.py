"""Shared fixtures: a real S3 server for the session, and a store on each backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.base import ObjectStore
from storage.local import LocalStore
from storage.retry import RetryPolicy
from storage.s3 import S3Store
from tests.s3server import S3Server, start_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS S3 server (the stand-in for MinIO) for the whole test session."""
    server = start_server(tmp_path_factory.mktemp("weed"))
    old = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    try:
        yield server
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_s3_store(server: S3Server, retry: RetryPolicy | None = None) -> S3Store:
    """A store on a fresh bucket of the test server."""
    bucket = f"kho-{uuid.uuid4().hex[:12]}"
    return S3Store(server.endpoint, bucket, "data", retry=retry or RetryPolicy(max_attempts=3),
                   create_bucket=True)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The same tests run against a local directory and a real S3 server."""
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return make_s3_store(request.getfixturevalue("s3_server"))


@pytest.fixture(scope="session")
def review_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A local store with two real runs to review: the bundled text sample and the generated
    image sample (real photos, near-duplicates, corrupt files; no CLIP). Read-only for tests,
    except the review exports under ``runs/<run>/review/``.

    Returns ``{"store", "text_run", "image_run", "samples"}`` (run ids, the image samples)."""
    from pipelines.cli import SAMPLE_CONFIG
    from pipelines.config import load_ingest_config
    from pipelines.image.config import ImageIngestConfig
    from pipelines.image.samples import make_image_samples
    from pipelines.ingest import run_ingest

    base = tmp_path_factory.mktemp("review-runs")
    store = LocalStore(base / "store")
    text = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    samples = make_image_samples(base / "samples")
    root = samples["root"]
    image = run_ingest(ImageIngestConfig(dataset="img", sources=[
        {"name": "photos", "format": "image_folder", "paths": [f"{root}/*"]},
        {"name": "list", "format": "image_list", "paths": [f"{root}/list.jsonl"]}]), store)
    return {"store": store, "text_run": text.run_id, "image_run": image.run_id, "samples": samples}
