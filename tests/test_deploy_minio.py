"""deploy/minio agrees with the capacity planner, and its policies with Kho's key layout.

Static checks: MinIO's server cannot be installed on the build machines, so nothing here
starts it. The lab compose file and the Tenant each name the planner command they are sized
by (`x-kho-capacity-plan`, the `kho.capacity-plan` annotation); the test runs that command
through the real CLI and compares servers, drives, volume size, pools and parity."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pipelines.capacity.planner import minio_set_size
from pipelines.capacity.report import example_plan
from pipelines.cli import app
from storage.layout import (committed_marker_key, crawl_part_key, datasheet_prefix, gc_checkpoint_key,
                            index_run_list_key, input_claim_key, ledger_key, manifest_key, ref_key,
                            review_summary_key, run_info_key, run_lease_key, shard_prefix, shardlist_key)

MINIO = Path(__file__).resolve().parent.parent / "deploy" / "minio"
RUN = "20261203T081500Z-0123abcd"
PREFIX = "prod/"  # the store is s3://kho/prod


def planner_json(args: str) -> dict:
    """The plan `kho plan capacity ARGS --json -` prints."""
    result = CliRunner().invoke(app, ["plan", "capacity", *shlex.split(args), "--json", "-"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def expand(pattern: str) -> list[str]:
    """MinIO's ellipsis notation: ``http://minio{1...4}/data{1...2}`` -> every host/drive."""
    found = re.search(r"\{(\d+)\.\.\.(\d+)\}", pattern)
    if not found:
        return [pattern]
    lo, hi = int(found.group(1)), int(found.group(2))
    return [x for i in range(lo, hi + 1)
            for x in expand(pattern[:found.start()] + str(i) + pattern[found.end():])]


def quantity_bytes(text: str) -> int:
    """A Kubernetes storage quantity (``20T``, ``18Ti``) in bytes."""
    value, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTPE]i?)?", text).groups()
    powers = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
    base = 1 if unit is None else (1024 if unit.endswith("i") else 1000) ** powers[unit[0]]
    return round(float(value) * base)


def _parity(env: dict[str, str]) -> int:
    found = re.fullmatch(r"EC:(\d+)", env["MINIO_STORAGE_CLASS_STANDARD"])
    assert found, "MINIO_STORAGE_CLASS_STANDARD must be EC:N (the planner's --ec parity)"
    return int(found.group(1))


def test_the_lab_compose_is_the_planners_lab_plan() -> None:
    compose = yaml.safe_load((MINIO / "compose.yaml").read_text())
    servers = {name: s for name, s in compose["services"].items() if str(s.get("command", "")).startswith("server")}
    commands = {s["command"] for s in servers.values()}
    assert len(commands) == 1, "every MinIO server must run the same command (one pool)"
    endpoints = [arg for arg in shlex.split(commands.pop()) if arg.startswith("http")]
    assert len(endpoints) == 1, "the lab is one server pool"
    drives = expand(endpoints[0])
    hosts = sorted({d.split("/")[2] for d in drives})
    paths = sorted({"/" + d.split("/", 3)[3] for d in drives})
    assert sorted(s["hostname"] for s in servers.values()) == hosts
    for s in servers.values():
        assert sorted(v.split(":")[1] for v in s["volumes"]) == paths, "one volume per drive path"
        assert s["healthcheck"]["test"]
    env = next(iter(servers.values()))["environment"]
    set_size = int(env.get("MINIO_ERASURE_SET_DRIVE_COUNT", minio_set_size(len(hosts), len(paths))))

    plan = planner_json(compose["x-kho-capacity-plan"])
    assert (plan["inputs"]["nodes_per_pool"], plan["inputs"]["drives_per_node"]) == (len(hosts), len(paths)) == (4, 4)
    assert plan["inputs"]["ec"]["data"] + plan["inputs"]["ec"]["parity"] == set_size == 16
    assert plan["inputs"]["ec"]["parity"] == _parity(env) == 4
    assert (plan["pools"], plan["nodes"], plan["drives"], plan["erasure_sets"]) == (1, 4, 16, 1)
    assert plan["node_failures_tolerated"] == 1  # 4 of the set's 16 drives on each node, parity 4

    init = compose["services"]["init"]
    assert set(init["depends_on"]) == set(servers)
    assert all(dep["condition"] == "service_healthy" for dep in init["depends_on"].values())
    script = (MINIO / "init.sh").read_text()
    for role in re.search(r"for role in ([a-z ]+); do", script).group(1).split():
        assert (MINIO / "policies" / f"kho-{role}.json").is_file()


def test_the_tenant_is_the_planners_100_pb_plan() -> None:
    tenant = yaml.safe_load((MINIO / "tenant.yaml").read_text())
    assert (tenant["apiVersion"], tenant["kind"]) == ("minio.min.io/v2", "Tenant")
    plan = planner_json(tenant["metadata"]["annotations"]["kho.capacity-plan"])
    assert plan == json.loads(example_plan().model_dump_json()), \
        "the Tenant must be docs/capacity.md's worked example"
    spec = tenant["spec"]
    env = {e["name"]: e["value"] for e in spec["env"]}
    pools = spec["pools"]
    assert len(pools) == plan["pools"] == 12
    assert len({p["name"] for p in pools}) == len(pools)
    inputs = plan["inputs"]
    for pool in pools:
        size = quantity_bytes(pool["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"])
        assert (pool["servers"], pool["volumesPerServer"], size) == (
            inputs["nodes_per_pool"], inputs["drives_per_node"], round(inputs["drive_tb"] * 10**12))
        anti = pool["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert anti[0]["topologyKey"] == "kubernetes.io/hostname", "one MinIO server per Kubernetes node"
        set_size = int(env.get("MINIO_ERASURE_SET_DRIVE_COUNT", minio_set_size(pool["servers"], pool["volumesPerServer"])))
        assert set_size == inputs["ec"]["data"] + inputs["ec"]["parity"]
    assert _parity(env) == inputs["ec"]["parity"]
    raw = sum(p["servers"] * p["volumesPerServer"]
              * quantity_bytes(p["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]) for p in pools)
    assert raw == plan["raw_bytes"] == 184.32e15
    assert sum(p["servers"] for p in pools) == plan["nodes"] == 384


def _allows(policy: dict, action: str, key: str, bucket: str = "kho") -> bool:
    """Whether an Allow statement grants ``action`` on object ``key`` (no Deny is used)."""
    return any(st["Effect"] == "Allow" and action in st["Action"]
               and any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{key}", r) for r in st["Resource"])
               for st in policy["Statement"])


def _policy(role: str) -> dict:
    return json.loads((MINIO / "policies" / f"kho-{role}.json").read_text())


def test_the_ingest_role_can_write_every_key_kho_writes() -> None:
    keys = [manifest_key("vi", "v1"), ref_key("vi", "latest"), shardlist_key("vi", RUN, 0, "-v1"),
            f"{shard_prefix('vi', 'text', RUN)}/part-00000-00000.parquet", run_info_key(RUN),
            ledger_key("vi", "src", "s3://x/y"), index_run_list_key("vi", RUN), run_lease_key("vi", RUN),
            input_claim_key("vi", "unit"), crawl_part_key("vi", "src", "c1", 0),
            f"{datasheet_prefix('vi', 'v1')}/README.md", gc_checkpoint_key("vi"),
            committed_marker_key("vi", "v1", RUN)]
    ingest = _policy("ingest")
    for key in keys:
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert _allows(ingest, action, PREFIX + key), f"kho-ingest cannot {action} {key}"
    assert not _allows(ingest, "s3:PutObject", "other/" + manifest_key("vi", "v1")), "only the store's prefix"


def test_train_reads_datasets_only_and_review_writes_only_its_exports() -> None:
    train, review = _policy("train"), _policy("review")
    shard = PREFIX + f"{shard_prefix('vi', 'image', RUN)}/part-00000-00000.tar"
    assert _allows(train, "s3:GetObject", shard)
    assert not _allows(train, "s3:GetObject", PREFIX + ledger_key("vi", "src", "u"))
    assert not any(_allows(train, a, shard) for a in ("s3:PutObject", "s3:DeleteObject"))
    assert _allows(review, "s3:GetObject", PREFIX + run_info_key(RUN)) and _allows(review, "s3:GetObject", shard)
    assert _allows(review, "s3:PutObject", PREFIX + review_summary_key(RUN))
    assert not _allows(review, "s3:PutObject", PREFIX + run_info_key(RUN))
    assert not _allows(review, "s3:PutObject", PREFIX + manifest_key("vi", "v1"))
