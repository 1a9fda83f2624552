"""Kho on a real multi-node SeaweedFS cluster (tests/s3cluster.py) under real faults.

One master, three volume servers with replication 001, a filer and the S3 gateway, each its
own ``weed`` process. A lost volume server is a SIGKILL; a stalled gateway is a SIGSTOP. The
ingest scenarios are the ones bench/cluster_faults.py repeats and reports; here each runs once
and every figure it measures is asserted: the run converges, every version verifies, and each
input is exactly once a kept, rejected, duplicate or quarantined row, the kept rows being
those of a clean ingest into a local folder.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster_faults import (
    Outcome,
    Reference,
    count_inputs,
    ingest_with_gateway_pause,
    ingest_with_volume_kill,
    make_corpus,
    reference_ingest,
    write_config,
)
from storage.uri import open_store
from tests.s3cluster import S3Cluster, s3_cluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Cluster]:
    """A started cluster for this module, with its credentials in the environment."""
    with s3_cluster(tmp_path_factory.mktemp("cluster")) as started:
        old = {k: os.environ.get(k) for k in started.env()}
        os.environ.update(started.env())
        try:
            yield started
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(autouse=True)
def _every_server_back(cluster: S3Cluster) -> Iterator[None]:
    """Whatever a test did, the next one starts on a whole, healthy cluster."""
    yield
    for proc in cluster.processes:
        if proc.paused:
            proc.resume()
        if not proc.alive():
            proc.restart()
    cluster.wait_healthy()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Reference]:
    """A generated corpus, its config, and what a clean local ingest of it publishes."""
    base = tmp_path_factory.mktemp("corpus")
    files = make_corpus(base / "in", docs=400, files=4)
    cfg = write_config(base / "cfg.json", files)
    return cfg, reference_ingest(cfg, base / "reference", count_inputs(files))


def _victim_bytes(cluster: S3Cluster, victim: int, bucket: str) -> int:
    """Bytes of ``bucket``'s volumes (its SeaweedFS collection) on one volume server's disk."""
    folder = cluster.root / f"volume{victim}"
    return sum(p.stat().st_size for p in folder.glob(f"{bucket}_*.dat"))


def _assert_nothing_lost_or_doubled(out: Outcome, ref: Reference) -> None:
    assert out.exit_codes[-1] == 0, f"no run converged: {out}"
    assert out.verified and all(out.verified.values()), out.verified
    assert out.verify_cli_rc == 0
    a = out.accounting
    assert a is not None
    assert (a.lost, a.duplicated, a.kept_missing, a.kept_extra) == (0, 0, 0, 0), a
    assert a.reconciles and a.kept + a.rejected + a.duplicates + a.quarantined == ref.inputs
    assert a.kept == len(ref.rows)


def test_every_object_reads_back_byte_identical_with_a_volume_server_killed(
        cluster: S3Cluster) -> None:
    bucket = f"kho-{uuid.uuid4().hex[:10]}"
    store = open_store(cluster.store_uri(bucket), create_bucket=True)
    rng = random.Random(15)
    # Above any inline-in-the-filer size, so every object lives in volumes.
    objects = {f"obj/{i:03d}": rng.randbytes(rng.randrange(16_000, 200_000)) for i in range(60)}
    for key, data in objects.items():
        store.put_bytes(key, data)
    victim = 1
    assert _victim_bytes(cluster, victim, bucket) > 0, "the victim holds none of this bucket"
    cluster.volumes[victim].kill()
    cluster.wait_volume_server_gone()
    for key, data in objects.items():
        assert store.get_bytes(key) == data, f"{key} changed or was lost with one server gone"
    # the two servers left still take writes (new volumes grow on them) and serve them
    store.put_bytes("obj/after-kill", b"x" * 50_000)
    assert store.get_bytes("obj/after-kill") == b"x" * 50_000
    cluster.volumes[victim].restart()
    cluster.wait_healthy()
    assert all(store.get_bytes(k) == d for k, d in objects.items())


def test_an_ingest_with_a_volume_server_killed_mid_run_converges_and_loses_nothing(
        cluster: S3Cluster, inputs, tmp_path: Path) -> None:
    cfg, ref = inputs
    out = ingest_with_volume_kill(cluster, cfg, ref, tmp_path, victim=0)
    assert out.faults == {"SIGKILL volume server": 1}
    # the first run either completed or failed with one clear line; a rerun then converged
    assert out.first_run_completed or out.failure_line.startswith("error:"), out
    _assert_nothing_lost_or_doubled(out, ref)


def test_a_commit_that_meets_a_killed_volume_server_converges_and_loses_nothing(
        cluster: S3Cluster, inputs, tmp_path: Path) -> None:
    cfg, ref = inputs
    out = ingest_with_volume_kill(cluster, cfg, ref, tmp_path, victim=2, at_commit=True)
    assert out.first_run_completed or out.failure_line.startswith("error:"), out
    _assert_nothing_lost_or_doubled(out, ref)


@pytest.mark.parametrize("at", ["after_claim", "before_commit_point"])
def test_a_paused_gateway_is_ridden_through_by_the_retries(
        at: str, cluster: S3Cluster, inputs, tmp_path: Path) -> None:
    """``before_commit_point`` stalls the manifest's conditional create itself: the request
    that timed out and its retry may both reach the gateway when it wakes, and the commit must
    still be one version, recognised as the run's own."""
    cfg, ref = inputs
    out = ingest_with_gateway_pause(cluster, cfg, ref, tmp_path, pause_s=8.0, at=at)
    assert out.faults == {"SIGSTOP gateway": 1}
    assert out.retried_requests >= 1, "no request was retried: the pause was not exercised"
    assert out.first_run_completed and out.reruns == 0, out
    assert list(out.verified) == ["v1"], "the stalled commit made more than one version"
    _assert_nothing_lost_or_doubled(out, ref)


def test_a_timeout_setting_that_is_not_seconds_is_refused_with_what_to_set(
        cluster: S3Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.errors import StoreConfigError

    monkeypatch.setenv("KHO_S3_READ_TIMEOUT_S", "soon")
    with pytest.raises(StoreConfigError, match="KHO_S3_READ_TIMEOUT_S"):
        open_store(cluster.store_uri("any-bucket"))
    monkeypatch.setenv("KHO_S3_READ_TIMEOUT_S", "0")
    with pytest.raises(StoreConfigError, match="seconds > 0"):
        open_store(cluster.store_uri("any-bucket"))
