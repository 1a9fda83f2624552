"""Ingests into a multi-node SeaweedFS cluster with faults injected; nothing lost, nothing doubled.

Each run is a real ``kho ingest`` process writing to the S3 gateway of a cluster from
``tests/s3cluster.py`` (one master, three volume servers with replication 001, a filer, the
gateway). A fault is a real signal to a real ``weed`` process, timed by Kho's own fault points
(storage/faults.py) so that it always lands inside the run:

``volume_kill``
    the run is held after claiming its inputs; one volume server gets SIGKILL; the run goes on
    and writes every shard, table and index object with that server dead; it is held again
    before its commit while the server is restarted, then commits.
``volume_kill_at_commit``
    the server is killed after the shards are written, so the commit and the run's last
    objects meet a dead server, and it comes back only after the run has ended.
``volume_kill_while_writing``
    the server is killed as soon as the run's first output object appears (timing-dependent:
    the kill lands somewhere among the uploads), and comes back after the run.
``two_volume_servers_killed``
    two of the three servers are killed after the claims: more than replication 001 survives.
    The run must fail with one clear line and commit nothing; a rerun after both are back
    must converge.
``gateway_pause``, ``gateway_pause_before_commit_point``
    the S3 gateway gets SIGSTOP just before the run's next request (after its claims, or its
    manifest's conditional create) and SIGCONT some seconds later: a server that accepts
    connections and answers nothing. The run's read timeout is lowered
    (KHO_S3_READ_TIMEOUT_S) so that the stalled requests are retried.

A run that fails is rerun without faults until it succeeds (at most twice). Then every
version is verified (every shard re-hashed, every Merkle level recomputed) and the records
are counted against a reference ingest of the same inputs into a local folder: the version's
(id, content_hash) rows must be those of the reference, and every input must be, exactly once,
a kept, rejected, duplicate or quarantined row. Lost and doubled rows are counted, not assumed.

``python -m bench.cluster_faults [--runs N]`` writes bench/results/cluster_faults.json.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from bench.common import corpus_parts, text_ingest_config, write_results
from storage.base import ObjectStore
from storage.uri import open_store
from storage.verify import verify_version
from storage.versions import VersionStore
from tests.s3cluster import S3Cluster, s3_cluster

log = logging.getLogger(__name__)

DATASET = "cluster"
#: An upper bound for a run to reach a fault point or end (start-up, Beam); not a timing check.
WAIT_S = 300
#: The read timeout the gateway-pause runs use: well under the pause, so requests retry.
PAUSED_READ_TIMEOUT_S = 3
#: What storage/retry.py logs (once per request) when a request is retried.
_RETRY_LINE = re.compile(r"failed \(.*\); retrying, up to \d+ more attempts")
KINDS = ("volume_kill", "volume_kill_at_commit", "volume_kill_while_writing", "gateway_pause",
         "gateway_pause_before_commit_point", "two_volume_servers_killed")


class ScenarioError(RuntimeError):
    """A run never reached its fault point or ended in a way the scenario cannot judge."""


def make_corpus(folder: Path, docs: int = 600, files: int = 6, seed: int = 7) -> list[Path]:
    """Generated Vietnamese documents (with near-duplicates, junk, PII) as JSONL files."""
    return corpus_parts(folder, docs=docs, files=files, seed=seed)


def write_config(path: Path, inputs: list[Path]) -> Path:
    """A text ingest config over ``inputs`` (no NER fallback: the runs stay a few seconds)."""
    return text_ingest_config(path, DATASET, inputs)


def count_inputs(inputs: list[Path]) -> int:
    """Records in the JSONL inputs."""
    return sum(1 for p in inputs for line in p.read_text(encoding="utf-8").splitlines() if line.strip())


@dataclass
class Ingest:
    """One ``kho ingest`` process and the file its output goes to."""

    proc: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_ingest(cfg: Path, store: str, log_path: Path, **env: str) -> Ingest:
    """Start ``kho ingest CFG --store STORE`` with ``env`` added (fault points, timeouts)."""
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    out = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "ingest", str(cfg),
                             "--store", store], env=full, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return Ingest(proc, log_path)


def finish(run: Ingest, timeout_s: float = WAIT_S) -> int:
    """Wait for the run to end; its exit code."""
    try:
        return run.proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        run.proc.wait()
        raise ScenarioError(f"the ingest did not end within {timeout_s}s; see {run.log_path}")


def wait_reached(pause_dir: Path, point: str, run: Ingest) -> bool:
    """Until the run waits at ``point`` (True) or has ended without reaching it (False)."""
    deadline = time.monotonic() + WAIT_S
    while not list(pause_dir.glob(f"{point}.*.reached")):
        if run.proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise ScenarioError(f"the run did not reach {point} in {WAIT_S}s; see {run.log_path}")
        time.sleep(0.05)
    return True


def release(pause_dir: Path, point: str) -> None:
    """Let a run held at ``point`` go on."""
    (pause_dir / f"{point}.go").write_text("go")


def count_retries(output: str) -> int:
    """Requests that needed at least one retry (storage/retry.py logs each once, at WARNING)."""
    return len(_RETRY_LINE.findall(output))


def version_rows(store: ObjectStore, ref: str = "latest") -> list[tuple[str, str]]:
    """(id, content_hash) of every row of a version's shards, sorted (repeats kept)."""
    vs = VersionStore(store)
    m = vs.manifest(f"{DATASET}@{ref}")
    rows: list[tuple[str, str]] = []
    for shard in vs.shards(m):
        t = pq.read_table(io.BytesIO(store.get_bytes(shard.key)), columns=["id", "content_hash"])
        rows += zip(t.column("id").to_pylist(), t.column("content_hash").to_pylist())
    return sorted(rows)


def accounted_ids(store: ObjectStore) -> dict[str, list[str]]:
    """Record ids by outcome over every committed version: kept (the latest version's rows)
    and each committed run's rejected, duplicates and quarantine tables."""
    vs = VersionStore(store)
    found = {"kept": [i for i, _ in version_rows(store)], "rejected": [], "duplicates": [],
             "quarantine": []}
    for v in vs.versions(DATASET):
        run = vs.manifest(f"{DATASET}@{v}").run_id
        stats = json.loads(store.get_bytes(f"runs/{run}/stats.json"))
        for name in ("rejected", "duplicates", "quarantine"):
            for key in stats["tables"].get(name, []):
                t = pq.read_table(io.BytesIO(store.get_bytes(key)), columns=["id"])
                found[name] += t.column("id").to_pylist()
    return found


@dataclass
class Reference:
    """What one clean ingest of the inputs into a local folder publishes and records."""

    rows: list[tuple[str, str]]
    ids: set[str]
    inputs: int


def reference_ingest(cfg: Path, folder: Path, inputs: int) -> Reference:
    """Ingest ``cfg`` into a local folder store: the figures every faulty run must match."""
    folder.mkdir(parents=True, exist_ok=True)
    run = start_ingest(cfg, str(folder / "store"), folder / "ingest.log")
    if finish(run) != 0:
        raise ScenarioError(f"the reference ingest failed: {run.output()[-2000:]}")
    store = open_store(str(folder / "store"))
    ids = [i for group in accounted_ids(store).values() for i in group]
    if len(ids) != inputs or len(set(ids)) != inputs:
        raise ScenarioError(f"the reference run accounts for {len(set(ids))} of {inputs} inputs")
    return Reference(version_rows(store), set(ids), inputs)


@dataclass
class Accounting:
    """Rows of a faulty run's store counted against the reference."""

    inputs: int
    kept: int
    rejected: int
    duplicates: int
    quarantined: int
    lost: int              # reference ids found in no table of the store
    duplicated: int        # ids found more than once across kept/rejected/duplicates/quarantine
    kept_missing: int      # reference kept rows (id, hash) absent from the version
    kept_extra: int        # version rows the reference did not keep (or kept fewer times)
    reconciles: bool       # kept + rejected + duplicates + quarantined == inputs


def account(store: ObjectStore, ref: Reference) -> Accounting:
    """Count every input's outcome in ``store`` and compare the version with the reference."""
    found = accounted_ids(store)
    every = [i for group in found.values() for i in group]
    rows = Counter(version_rows(store))
    want = Counter(ref.rows)
    total = len(every)
    return Accounting(
        inputs=ref.inputs, kept=len(found["kept"]), rejected=len(found["rejected"]),
        duplicates=len(found["duplicates"]), quarantined=len(found["quarantine"]),
        lost=len(ref.ids - set(every)), duplicated=total - len(set(every)),
        kept_missing=sum((want - rows).values()), kept_extra=sum((rows - want).values()),
        reconciles=total == ref.inputs)


def verify_all(store: ObjectStore) -> dict[str, bool]:
    """Verify every version of the dataset; version -> ok (problems are logged)."""
    vs = VersionStore(store)
    out = {}
    for v in vs.versions(DATASET):
        report = verify_version(vs, vs.manifest(f"{DATASET}@{v}"))
        for key, problem in report.problems:
            log.error("verify %s@%s: %s: %s", DATASET, v, key, problem)
        out[v] = report.ok
    return out


def verify_cli(store: str) -> int:
    """``kho verify cluster@latest`` as the user runs it; its exit code."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "verify", f"{DATASET}@latest",
                           "--store", store], capture_output=True, text=True,
                          timeout=WAIT_S).returncode


@dataclass
class Outcome:
    """What one scenario did and found."""

    kind: str
    victim: str
    exit_codes: list[int] = field(default_factory=list)   # the faulty run, then any reruns
    faults: dict[str, int] = field(default_factory=dict)  # signal -> how many were sent
    retried_requests: int = 0
    #: requests the gateway or filer sent to a dead volume server and then served (or
    #: failed) without Kho seeing it: "connection refused" lines in their logs during the run
    backend_refusals: int = 0
    first_run_completed: bool = False
    reruns: int = 0
    failure_line: str = ""                                 # the failed run's last error line
    versions_after_faulty_run: int = 0                     # a failed run must leave none
    verified: dict[str, bool] = field(default_factory=dict)
    verify_cli_rc: int | None = None
    accounting: Accounting | None = None
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        a = self.accounting
        failed_cleanly = self.first_run_completed or self.failure_line.startswith("error:")
        return bool(a and failed_cleanly and self.exit_codes[-1] == 0 and self.verified
                    and all(self.verified.values()) and self.verify_cli_rc == 0
                    and a.lost == 0 and a.duplicated == 0 and a.kept_missing == 0
                    and a.kept_extra == 0 and a.reconciles)


def _last_error(output: str) -> str:
    lines = [l for l in output.splitlines() if l.startswith("error:") or "Error" in l]
    return lines[-1][:300] if lines else output.strip().splitlines()[-1][:300] if output.strip() else ""


def _converge(out: Outcome, cfg: Path, store: str, work: Path, max_reruns: int = 2) -> None:
    """Rerun without faults until a run succeeds (at most ``max_reruns``)."""
    while out.exit_codes[-1] != 0 and out.reruns < max_reruns:
        out.reruns += 1
        run = start_ingest(cfg, store, work / f"rerun-{out.reruns}.log")
        out.exit_codes.append(finish(run))
        out.retried_requests += count_retries(run.output())


def _judge(out: Outcome, store_uri: str, ref: Reference) -> Outcome:
    store = open_store(store_uri)
    if out.exit_codes[-1] == 0:
        out.verified = verify_all(store)
        out.verify_cli_rc = verify_cli(store_uri)
        out.accounting = account(store, ref)
    return out


def fresh_store(cluster: S3Cluster) -> str:
    """A store URI on a new bucket of the cluster (the bucket is created)."""
    uri = cluster.store_uri(f"kho-{uuid.uuid4().hex[:10]}", "faults")
    open_store(uri, create_bucket=True)
    return uri


def ingest_with_volume_kill(cluster: S3Cluster, cfg: Path, ref: Reference, work: Path,
                            victim: int = 0, at_commit: bool = False) -> Outcome:
    """SIGKILL volume server ``victim`` during an ingest, bring it back, converge, judge.

    ``at_commit`` False: killed after the claims (every shard is written with it dead) and
    restarted before the commit. True: killed after the shards (the commit meets it dead),
    restarted after the run."""
    work.mkdir(parents=True, exist_ok=True)
    store, pause = fresh_store(cluster), work / "pause"
    volume = cluster.volumes[victim]
    kind = "volume_kill_at_commit" if at_commit else "volume_kill"
    out = Outcome(kind, volume.name)
    started, refused = time.monotonic(), _refusals(cluster)
    kill_at, back_at = ("after_shards", None) if at_commit else ("after_claim", "after_shards")
    points = ",".join(p for p in (kill_at, back_at) if p)
    run = start_ingest(cfg, store, work / "run.log", KHO_PAUSE_AT=points, KHO_PAUSE_DIR=str(pause))
    if not wait_reached(pause, kill_at, run):
        raise ScenarioError(f"the run ended before {kill_at}: {run.output()[-2000:]}")
    volume.kill()
    out.faults["SIGKILL volume server"] = 1
    release(pause, kill_at)
    if back_at and wait_reached(pause, back_at, run):
        volume.restart()
        cluster.wait_healthy()
        release(pause, back_at)
    elif back_at:  # the run failed with the server dead: bring it back before any rerun
        volume.restart()
        cluster.wait_healthy()
    out.exit_codes.append(finish(run))
    if not volume.alive():
        volume.restart()
        cluster.wait_healthy()
    return _close(out, run, cfg, store, ref, work, started, refused, cluster)


def ingest_with_two_volume_servers_killed(cluster: S3Cluster, cfg: Path, ref: Reference,
                                          work: Path, victim: int = 0) -> Outcome:
    """Beyond what replication 001 survives: SIGKILL two of the three volume servers after
    the claims, so the run's writes cannot find two servers for their copies. The run must
    fail with one clear line (no version, nothing half-committed); both servers come back
    and a rerun must converge to the reference."""
    work.mkdir(parents=True, exist_ok=True)
    store, pause = fresh_store(cluster), work / "pause"
    victims = [cluster.volumes[(victim + k) % len(cluster.volumes)] for k in (0, 1)]
    out = Outcome("two_volume_servers_killed", "+".join(v.name for v in victims))
    started, refused = time.monotonic(), _refusals(cluster)
    run = start_ingest(cfg, store, work / "run.log", KHO_PAUSE_AT="after_claim",
                       KHO_PAUSE_DIR=str(pause))
    if not wait_reached(pause, "after_claim", run):
        raise ScenarioError(f"the run ended before after_claim: {run.output()[-2000:]}")
    for volume in victims:
        volume.kill()
    out.faults["SIGKILL volume server"] = 2
    cluster.wait_volume_server_gone()
    release(pause, "after_claim")
    out.exit_codes.append(finish(run))
    for volume in victims:
        volume.restart()
    cluster.wait_healthy()
    return _close(out, run, cfg, store, ref, work, started, refused, cluster)


def ingest_with_volume_kill_while_writing(cluster: S3Cluster, cfg: Path, ref: Reference,
                                          work: Path, victim: int = 0) -> Outcome:
    """SIGKILL volume server ``victim`` as soon as the run's first output object (a shard, a
    table, an index part: anything outside ``leases/``) appears, so the kill lands among the
    run's uploads; restart it after the run. Where exactly it lands depends on timing (the
    other kinds are exact); bench only."""
    work.mkdir(parents=True, exist_ok=True)
    store_uri = fresh_store(cluster)
    store = open_store(store_uri)
    volume = cluster.volumes[victim]
    out = Outcome("volume_kill_while_writing", volume.name)
    started, refused = time.monotonic(), _refusals(cluster)
    run = start_ingest(cfg, store_uri, work / "run.log")
    deadline = time.monotonic() + WAIT_S
    while run.proc.poll() is None and time.monotonic() < deadline:
        if any(not o.key.startswith("leases/") for o in store.list("")):
            volume.kill()
            out.faults["SIGKILL volume server"] = 1
            break
        time.sleep(0.05)
    out.exit_codes.append(finish(run))
    if not volume.alive():
        volume.restart()
        cluster.wait_healthy()
    return _close(out, run, cfg, store_uri, ref, work, started, refused, cluster)


def ingest_with_gateway_pause(cluster: S3Cluster, cfg: Path, ref: Reference, work: Path,
                              pause_s: float = 8.0, at: str = "after_claim") -> Outcome:
    """SIGSTOP the S3 gateway while the run is held at fault point ``at``, let the run go on
    into the stalled gateway, SIGCONT it ``pause_s`` later. The run's read timeout is lowered
    so the stalled requests are retried. ``at="before_commit_point"`` stalls the commit's
    own conditional create: the timed-out request and its retry may both reach the server."""
    work.mkdir(parents=True, exist_ok=True)
    store, pause = fresh_store(cluster), work / "pause"
    kind = "gateway_pause" if at == "after_claim" else f"gateway_pause_{at}"
    out = Outcome(kind, cluster.s3.name)
    started, refused = time.monotonic(), _refusals(cluster)
    run = start_ingest(cfg, store, work / "run.log", KHO_PAUSE_AT=at,
                       KHO_PAUSE_DIR=str(pause),
                       KHO_S3_READ_TIMEOUT_S=str(PAUSED_READ_TIMEOUT_S))
    if not wait_reached(pause, at, run):
        raise ScenarioError(f"the run ended before {at}: {run.output()[-2000:]}")
    cluster.s3.pause()
    out.faults["SIGSTOP gateway"] = 1
    try:
        release(pause, at)
        time.sleep(pause_s)
    finally:
        cluster.s3.resume()
    out.exit_codes.append(finish(run))
    return _close(out, run, cfg, store, ref, work, started, refused, cluster)


def _refusals(cluster: S3Cluster) -> int:
    return cluster.log_lines("s3", "filer", contains="connection refused")


def _close(out: Outcome, run: Ingest, cfg: Path, store: str, ref: Reference, work: Path,
           started: float, refusals_before: int, cluster: S3Cluster) -> Outcome:
    """After the faulty run: its retries and failure line, reruns until it converges, judge."""
    out.backend_refusals = _refusals(cluster) - refusals_before
    output = run.output()
    out.retried_requests = count_retries(output)
    out.first_run_completed = out.exit_codes[0] == 0
    if not out.first_run_completed:
        out.failure_line = _last_error(output)
    out.versions_after_faulty_run = len(VersionStore(open_store(store)).versions(DATASET))
    _converge(out, cfg, store, work)
    _judge(out, store, ref)
    out.seconds = round(time.monotonic() - started, 1)
    return out


def run_scenario(kind: str, cluster: S3Cluster, cfg: Path, ref: Reference, work: Path,
                 victim: int = 0) -> Outcome:
    """One scenario by name (see KINDS)."""
    if kind == "volume_kill":
        return ingest_with_volume_kill(cluster, cfg, ref, work, victim)
    if kind == "volume_kill_at_commit":
        return ingest_with_volume_kill(cluster, cfg, ref, work, victim, at_commit=True)
    if kind == "two_volume_servers_killed":
        return ingest_with_two_volume_servers_killed(cluster, cfg, ref, work, victim)
    if kind == "volume_kill_while_writing":
        return ingest_with_volume_kill_while_writing(cluster, cfg, ref, work, victim)
    if kind == "gateway_pause":
        return ingest_with_gateway_pause(cluster, cfg, ref, work)
    if kind == "gateway_pause_before_commit_point":
        return ingest_with_gateway_pause(cluster, cfg, ref, work, at="before_commit_point")
    raise ValueError(f"unknown scenario {kind!r}: use one of {', '.join(KINDS)}")


def summarize(outcomes: list[Outcome]) -> dict:
    """The figures of all runs together (lost and duplicated summed from measurements)."""
    faults: Counter[str] = Counter()
    for o in outcomes:
        faults.update(o.faults)
    judged = [o for o in outcomes if o.accounting]
    return {
        "scenarios": len(outcomes),
        "ingest_processes": sum(len(o.exit_codes) for o in outcomes),
        "faults_injected": dict(faults),
        "retried_requests": sum(o.retried_requests for o in outcomes),
        "backend_refusals_absorbed": sum(o.backend_refusals for o in outcomes),
        "first_runs_completed": sum(o.first_run_completed for o in outcomes),
        "reruns_needed": sum(o.reruns for o in outcomes),
        "failed_runs_that_left_a_version": sum(
            not o.first_run_completed and o.versions_after_faulty_run > 0 for o in outcomes),
        "converged": sum(bool(o.exit_codes and o.exit_codes[-1] == 0) for o in outcomes),
        "rows_in": sum(o.accounting.inputs for o in judged),
        "rows_kept": sum(o.accounting.kept for o in judged),
        "rows_lost": sum(o.accounting.lost + o.accounting.kept_missing for o in judged),
        "rows_duplicated": sum(o.accounting.duplicated + o.accounting.kept_extra for o in judged),
        "versions_verified": sum(len(o.verified) for o in outcomes),
        "versions_failing_verify": sum(not ok for o in outcomes for ok in o.verified.values()),
        "verify_cli_failures": sum(o.verify_cli_rc not in (0, None) for o in outcomes),
        "all_clean": all(o.clean for o in outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    """Run ``--runs`` scenarios (cycling through KINDS and victims) and write the JSON."""
    parser = argparse.ArgumentParser(description="ingests into a SeaweedFS cluster under faults")
    parser.add_argument("--runs", type=int, default=6, help="scenarios to run (cycles the kinds)")
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"comma-separated scenarios to cycle through (default: all of {KINDS})")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}: use some of {', '.join(KINDS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="kho-cluster-faults-") as tmp:
        base = Path(tmp)
        inputs = make_corpus(base / "corpus", docs=args.docs)
        cfg = write_config(base / "cfg.json", inputs)
        ref = reference_ingest(cfg, base / "reference", count_inputs(inputs))
        outcomes: list[Outcome] = []
        with s3_cluster(base / "cluster") as cluster:
            os.environ.update(cluster.env())
            for n in range(args.runs):
                kind = kinds[n % len(kinds)]
                victim = (n // len(kinds)) % len(cluster.volumes)
                out = run_scenario(kind, cluster, cfg, ref, base / f"run-{n}", victim)
                log.info("%s (%s): exit codes %s, retried requests %d, clean %s", kind,
                         out.victim, out.exit_codes, out.retried_requests, out.clean)
                outcomes.append(out)
    figures = summarize(outcomes)
    path = write_results(
        "cluster_faults",
        inputs={"runs": args.runs, "docs_per_run": ref.inputs, "volume_servers": 3,
                "replication": "001", "gateway_pause_s": 8.0,
                "paused_read_timeout_s": PAUSED_READ_TIMEOUT_S, "kinds": kinds},
        figures={**figures, "runs": [{**asdict(o), "clean": o.clean} for o in outcomes]},
        ratio={"baseline": "a clean ingest of the same inputs into a local folder, same run",
               "kept_rows_matching_reference": sum(
                   o.accounting.kept - o.accounting.kept_extra for o in outcomes if o.accounting)
               / max(len(ref.rows) * sum(bool(o.accounting) for o in outcomes), 1)})
    print(json.dumps(figures, indent=2))
    print(f"wrote {path}")
    return 0 if figures["all_clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
