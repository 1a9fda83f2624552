"""Model stages on Beam's RunInference (pipelines/core/inference.py), on the FnApiRunner.

The "model" is a fixed random projection loaded from a .npy file the test writes; the
handler logs, per worker process, each load and each batch size to a folder, so the tests
see what ran where without reaching into Beam."""

from __future__ import annotations

import hashlib
import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.core.inference import AnnotateWithModel, KhoModelHandler, ModelLoadError, resolve_device

ONE = ["--runner=FnApiRunner"]
TWO = ["--runner=FnApiRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]
D_IN, D_OUT = 6, 4
QUARANTINE_COLUMNS = {"id", "source", "uri", "pointer", "error_class", "message", "raw", "raw_truncated"}


class Projection(KhoModelHandler):
    """x -> x @ W, W from a .npy file. A record with ``undecodable`` fails preprocess; an
    input with a NaN makes its whole batch's predict raise."""

    name = "numpy-projection"

    def __init__(self, weights: str, log_dir: str, **kw: Any) -> None:
        super().__init__(weights, **kw)
        self.log_dir = log_dir

    def _log(self, line: str) -> None:
        with open(os.path.join(self.log_dir, f"{os.getpid()}.log"), "a") as f:
            f.write(line + "\n")

    def load(self, device: str) -> Any:
        w = np.load(self.weights)
        self._log(f"load {device}")
        return w, device

    def preprocess(self, record: dict[str, Any]) -> np.ndarray:
        if record.get("undecodable"):
            raise ValueError(f"cannot decode {record['pointer']}")
        return np.asarray(record["values"], dtype=np.float32)

    def predict(self, model: Any, batch: list[np.ndarray]) -> list[list[float]]:
        w, _device = model
        self._log(f"batch {len(batch)}")
        x = np.stack(batch)
        if np.isnan(x).any():
            raise FloatingPointError("NaN in the batch")
        return [row.tolist() for row in x @ w]


class _Collect(beam.DoFn):
    """Each element to its own pickle file (works from any worker process)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def process(self, element):
        with open(os.path.join(self.folder, f"{uuid.uuid4().hex}.pkl"), "wb") as f:
            pickle.dump(element, f)


def _read(folder: Path) -> list[Any]:
    return [pickle.loads(p.read_bytes()) for p in sorted(folder.glob("*.pkl"))]


def make_records(n: int = 50, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"id": f"rec-{i:03d}", "source": "test", "uri": "mem://inputs", "pointer": f"#{i}",
             "reasons": [], "values": rng.normal(size=D_IN).astype(np.float32).tolist()}
            for i in range(n)]


@pytest.fixture()
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "projection.npy"
    np.save(path, np.random.default_rng(0).normal(size=(D_IN, D_OUT)).astype(np.float32))
    return path


def run(records: list[dict], handler: KhoModelHandler, tmp: Path, args: list[str] = ONE,
        field: str | None = "embedding") -> tuple[dict[str, dict], dict[str, dict]]:
    """Annotate ``records``; returns (annotated by id, quarantine rows by id)."""
    ok, bad = tmp / f"ok-{uuid.uuid4().hex[:8]}", tmp / f"bad-{uuid.uuid4().hex[:8]}"
    ok.mkdir()
    bad.mkdir()
    with beam.Pipeline(options=PipelineOptions(args)) as p:
        out = p | "Records" >> beam.Create(records) | "Embed" >> AnnotateWithModel(handler, field=field)
        out.annotated | "CollectOk" >> beam.ParDo(_Collect(str(ok)))
        out.quarantine | "CollectBad" >> beam.ParDo(_Collect(str(bad)))
    annotated, quarantined = _read(ok), _read(bad)
    by_id = {r["id"]: r for r in annotated}
    q_by_id = {r["id"]: r for r in quarantined}
    assert len(by_id) == len(annotated) and len(q_by_id) == len(quarantined), "a record came out twice"
    return by_id, q_by_id


def logs(log_dir: Path) -> dict[int, list[str]]:
    """Per worker process id: its log lines."""
    return {int(p.stem): p.read_text().splitlines() for p in log_dir.glob("*.log")}


def expected(records: list[dict], weights: Path) -> dict[str, np.ndarray]:
    w = np.load(weights)
    return {r["id"]: np.asarray(r["values"], dtype=np.float32) @ w for r in records}


def test_embeds_in_batches_with_one_load_and_matches_numpy(tmp_path: Path, weights: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    records = make_records(50)
    handler = Projection(str(weights), str(log_dir), max_batch_size=8)
    annotated, quarantined = run(records, handler, tmp_path)

    assert not quarantined
    assert set(annotated) == {r["id"] for r in records}
    want = expected(records, weights)
    for rid, rec in annotated.items():
        np.testing.assert_allclose(rec["embedding"], want[rid], rtol=1e-5, atol=1e-6)
        original = next(r for r in records if r["id"] == rid)
        assert {k: v for k, v in rec.items() if k != "embedding"} == original  # the rest unchanged

    per_process = logs(log_dir)
    assert len(per_process) == 1, "single-worker run: one process"
    lines = next(iter(per_process.values()))
    assert [ln for ln in lines if ln.startswith("load")] == ["load cpu"], "loaded once, on the CPU"
    sizes = [int(ln.split()[1]) for ln in lines if ln.startswith("batch")]
    assert sum(sizes) == 50 and max(sizes) <= 8
    assert sum(1 for s in sizes if s < 8) <= 1, f"fixed batches of 8, one short one at most: {sizes}"


def test_min_and_max_batch_size_are_passed_to_batch_elements(tmp_path: Path, weights: Path) -> None:
    handler = Projection(str(weights), str(tmp_path), min_batch_size=2, max_batch_size=5,
                         max_batch_duration_secs=1.5)
    assert handler.batch_elements_kwargs() == {"min_batch_size": 2, "max_batch_size": 5,
                                               "max_batch_duration_secs": 1.5}
    assert Projection(str(weights), str(tmp_path)).batch_elements_kwargs() == {
        "min_batch_size": 32, "max_batch_size": 32}
    with pytest.raises(ValueError, match="min"):
        Projection(str(weights), str(tmp_path), min_batch_size=9, max_batch_size=4)


def test_stateful_batching_with_max_batch_duration(tmp_path: Path, weights: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    records = make_records(30, seed=5)
    handler = Projection(str(weights), str(log_dir), max_batch_size=7, max_batch_duration_secs=5)
    annotated, quarantined = run(records, handler, tmp_path)
    assert not quarantined and len(annotated) == 30
    want = expected(records, weights)
    for rid, rec in annotated.items():
        np.testing.assert_allclose(rec["embedding"], want[rid], rtol=1e-5, atol=1e-6)
    sizes = [int(ln.split()[1]) for lines in logs(log_dir).values() for ln in lines if ln.startswith("batch")]
    assert sum(sizes) == 30 and max(sizes) <= 7


def test_two_workers_load_once_per_process(tmp_path: Path, weights: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    records = make_records(50, seed=2)
    annotated, quarantined = run(records, Projection(str(weights), str(log_dir), max_batch_size=8),
                                 tmp_path, args=TWO)
    assert not quarantined and len(annotated) == 50
    want = expected(records, weights)
    for rid, rec in annotated.items():
        np.testing.assert_allclose(rec["embedding"], want[rid], rtol=1e-5, atol=1e-6)
    per_process = logs(log_dir)
    assert os.getpid() not in per_process, "the model ran in the worker processes"
    for pid, lines in per_process.items():
        loads = [ln for ln in lines if ln.startswith("load")]
        assert len(loads) == 1, f"process {pid} loaded the model {len(loads)} times"
        assert all(int(ln.split()[1]) <= 8 for ln in lines if ln.startswith("batch"))


def test_failed_preprocess_goes_to_quarantine_and_the_rest_go_through(tmp_path: Path, weights: Path) -> None:
    records = make_records(50, seed=3)
    records[17]["undecodable"] = True
    annotated, quarantined = run(records, Projection(str(weights), str(tmp_path), max_batch_size=8), tmp_path)

    assert set(quarantined) == {"rec-017"}
    row = quarantined["rec-017"]
    assert set(row) == QUARANTINE_COLUMNS
    assert row["error_class"] == "ValueError"
    assert row["message"] == "model numpy-projection preprocess failed: ValueError: cannot decode #17"
    assert (row["source"], row["uri"], row["pointer"]) == ("test", "mem://inputs", "#17")
    assert set(annotated) == {r["id"] for r in records} - {"rec-017"}
    want = expected(records, weights)
    for rid, rec in annotated.items():
        np.testing.assert_allclose(rec["embedding"], want[rid], rtol=1e-5, atol=1e-6)


def test_failed_batch_quarantines_only_the_record_that_fails_alone(tmp_path: Path, weights: Path) -> None:
    records = make_records(50, seed=4)
    records[20]["values"][0] = float("nan")
    annotated, quarantined = run(records, Projection(str(weights), str(tmp_path), max_batch_size=8), tmp_path)
    assert set(quarantined) == {"rec-020"}
    row = quarantined["rec-020"]
    assert row["error_class"] == "FloatingPointError"
    assert row["message"] == "model numpy-projection inference failed: FloatingPointError: NaN in the batch"
    assert len(annotated) == 49


def test_failed_batch_without_isolation_quarantines_the_batch(tmp_path: Path, weights: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    records = make_records(50, seed=4)
    records[20]["values"][0] = float("nan")
    handler = Projection(str(weights), str(log_dir), max_batch_size=8, isolate_failures=False)
    annotated, quarantined = run(records, handler, tmp_path)

    assert "rec-020" in quarantined and 1 < len(quarantined) <= 8
    assert len(annotated) + len(quarantined) == 50 and not set(annotated) & set(quarantined)
    for row in quarantined.values():
        assert set(row) == QUARANTINE_COLUMNS
        assert (row["error_class"], row["message"]) == (
            "FloatingPointError", "model numpy-projection inference failed: FloatingPointError: NaN in the batch")
    sizes = [int(ln.split()[1]) for lines in logs(log_dir).values() for ln in lines if ln.startswith("batch")]
    assert len(quarantined) in sizes, "exactly the failing batch was quarantined"


def test_field_none_merges_a_dict_output(tmp_path: Path, weights: Path) -> None:
    class Norms(Projection):
        name = "numpy-norms"

        def predict(self, model, batch):
            return [{"proj_norm": float(np.linalg.norm(v)), "proj_dim": len(v)}
                    for v in super().predict(model, batch)]

    records = make_records(10, seed=6)
    annotated, _ = run(records, Norms(str(weights), str(tmp_path), max_batch_size=4), tmp_path, field=None)
    want = expected(records, weights)
    for rid, rec in annotated.items():
        assert rec["proj_dim"] == D_OUT
        assert rec["proj_norm"] == pytest.approx(float(np.linalg.norm(want[rid])), rel=1e-5)


def test_missing_weights_fail_before_the_run_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "projection.npy"
    with pytest.raises(ModelLoadError) as err:
        run(make_records(5), Projection(str(missing), str(tmp_path)), tmp_path)
    assert str(err.value) == f"model numpy-projection: weights '{missing}' do not exist"


def test_weights_that_cannot_load_fail_the_run_naming_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not a numpy file")
    with pytest.raises(ModelLoadError) as err:
        run(make_records(5), Projection(str(broken), str(tmp_path)), tmp_path)
    message = str(err.value)
    assert message.startswith(f"model numpy-projection could not load weights '{broken}': ")
    assert "\n" not in message.split(" [while running")[0]


def test_pinned_sha256_is_checked_on_load_and_shown_in_model_info(tmp_path: Path, weights: Path) -> None:
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    ok = Projection(str(weights), str(tmp_path), weights_sha256=digest)
    assert ok.model_info() == f"numpy-projection, weights {weights} (sha256 {digest[:12]})"
    annotated, _ = run(make_records(5), ok, tmp_path)
    assert len(annotated) == 5
    with pytest.raises(ModelLoadError, match=f"could not load weights '{weights}': sha256 is {digest}"):
        run(make_records(5), Projection(str(weights), str(tmp_path), weights_sha256="0" * 64), tmp_path)


def test_device_is_cpu_without_a_gpu() -> None:
    assert resolve_device("cpu") == "cpu"
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ModelLoadError, match="'cuda' was asked for"):
            resolve_device("cuda")
    else:
        assert resolve_device("auto") == "cuda"
    with pytest.raises(ModelLoadError, match="unknown device"):
        resolve_device("tpu")


def test_core_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, pipelines.core.inference as m; "
            "m.resolve_device('auto'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    try:
        import torch  # noqa: F401
    except ImportError:
        assert out.stdout.strip() == "False"
