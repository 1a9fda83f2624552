"""`kho plan capacity`: figures checked against arithmetic done by hand, input errors that say
what to type, the CLI's tables and JSON, the measured metadata constants, and the worked
100 PB example of docs/capacity.md rendered from the planner (so doc and code cannot drift).

The expected numbers below are literals worked out by hand (the working is in the comments),
never recomputed with the planner's own functions."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.capacity import CapacityInputError, build_inputs, plan, planner
from pipelines.capacity.measure import measure_manifest_bytes, measure_shard_list_row_bytes
from pipelines.capacity.model import (MANIFEST_BASE_BYTES, MANIFEST_BYTES_PER_LIST, SHARD_LIST_ROW_BYTES,
                                      parse_mix)
from pipelines.capacity.report import example_plan, render_markdown
from pipelines.cli import app

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

#: A small all-text cluster whose every figure is worked out by hand below.
SMALL = dict(petabytes=1, mix="text=1", shard_gib=1, ec="12+4", drive_tb=10, drives_per_node=16,
             nodes_per_pool=4, fill=0.8, run_table_fraction=0, ingest_tb_per_day=10, peak_factor=1,
             rebuild_mb_s=100, nic_gbit=10)


def test_a_small_all_text_plan_matches_the_hand_computed_figures() -> None:
    p = plan(build_inputs(**SMALL))
    text = p.modalities[0]
    # 10^15 B / 1,073,741,824 B = 931,322.57 -> 931,323 shards, one object each (Parquet)
    assert (text.modality, text.shards, text.objects) == ("text", 931_323, 931_323)
    assert [m.shards for m in p.modalities[1:]] == [0, 0, 0]
    # 10^15 B / 4,000 B per document
    assert text.records == 250_000_000_000
    # ceil(931,323 / 50,000) = ceil(18.63) = 19 lists
    assert p.shard_lists == 19
    # 931,323 x 41.9 B = 39,022,433.7 -> 39,022,434 B
    assert p.shard_list_bytes == 39_022_434
    # 628 B + 19 x 653 B = 628 + 12,407
    assert p.manifest_bytes == 13_035
    # U = 10^15 + 39,022,434 (no run tables)
    assert p.usable_bytes == 1_000_000_039_022_434
    # R = U x 16/12 / 0.8 = U x 5/3 = 1,666,666,731,704,056.7 B; / 10^13 = 166.67 -> 167 drives
    assert p.raw_bytes_needed == pytest.approx(1_666_666_731_704_056.7)
    assert p.drives_needed == 167
    # ceil(167 / 16) = 11 sets; 11 x 16 / 16 = 11 nodes
    assert (p.erasure_sets_needed, p.nodes_needed) == (11, 11)
    # a pool: 4 nodes x 16 drives = 64 drives = 4 sets; ceil(11 / 4) = 3 pools
    assert (p.pool.nodes, p.pool.drives, p.pool.erasure_sets) == (4, 64, 4)
    assert (p.pools, p.nodes, p.drives, p.erasure_sets) == (3, 12, 192, 12)
    # 192 x 10 TB = 1.92 PB raw; x 12/16 = 1.44 PB usable; U / 1.44 PB = 0.694444
    assert p.raw_bytes == 1.92e15 and p.usable_capacity_bytes == 1.44e15
    assert p.fill_at_plan == pytest.approx(0.694444, abs=1e-6)
    # a set of 16 over 4 nodes puts 4 of its drives on each node; parity 4 -> 1 node may be down
    assert (p.minio_set_size, p.set_drives_per_node, p.node_failures_tolerated) == (16, 4, 1)


def test_a_small_plan_network_and_rebuild_match_the_hand_computed_figures() -> None:
    p = plan(build_inputs(**SMALL))
    # 10 TB/day x 8 bit / 86,400 s = 0.925926 Gbit/s; x 16/12 = 1.234568 onto the drives
    assert p.ingest_client_gbit == pytest.approx(0.925926, abs=1e-6)
    assert p.ingest_drive_gbit == pytest.approx(1.234568, abs=1e-6)
    # 1.234568 / 12 nodes
    assert p.ingest_drive_gbit_per_node == pytest.approx(0.102881, abs=1e-6)
    # 1 PB / 10 TB per day
    assert p.days_to_fill == 100
    # 10 TB x 0.8 / 100 MB/s = 80,000 s = 22.22 h; reads 12 x 100 MB/s x 8 = 9.6 Gbit/s
    assert p.drive_rebuild_hours == pytest.approx(22.2222, abs=1e-4)
    assert p.drive_rebuild_read_gbit == pytest.approx(9.6)
    # a node: 16 x 100 MB/s = 1.6 GB/s wanted, NIC 10 Gbit/s = 1.25 GB/s -> NIC-bound;
    # 16 x 10 TB x 0.8 / 1.25 GB/s = 102,400 s = 28.44 h; reads 12 x 1.25 GB/s x 8 = 120 Gbit/s
    assert p.node_rebuild_hours == pytest.approx(28.4444, abs=1e-4)
    assert p.node_rebuild_read_gbit == pytest.approx(120)


def test_the_100_pb_default_plan_matches_the_hand_computed_headline() -> None:
    p = plan(build_inputs(petabytes=100))
    # shards = ceil(share x 10^17 / 2^30): text 1 PB -> 931,322.6; image 24 PB -> 22,351,741.8;
    # audio 25 PB -> 23,283,064.4; video 50 PB -> 46,566,128.7
    assert [m.shards for m in p.modalities] == [931_323, 22_351_742, 23_283_065, 46_566_129]
    # media shards are a tar and its index: 931,323 + 2 x (22,351,742 + 23,283,065 + 46,566,129)
    assert p.objects == 185_333_195
    # ceil(185,333,195 / 50,000) = ceil(3,706.7)
    assert p.shard_lists == 3_707
    # U = 110 PB + 7.77 GB of lists; R = U x 16/12 / 0.8 = 183.33 PB; / 20 TB = 9,166.7 drives
    assert p.drives_needed == 9_167
    # ceil(9,167 / 16) = 573 sets; a pool of 32 x 24 = 768 drives = 48 sets; ceil(573 / 48) = 12
    assert (p.erasure_sets_needed, p.pool.erasure_sets, p.pools) == (573, 48, 12)
    # 12 x 32 = 384 nodes, x 24 = 9,216 drives, x 20 TB = 184.32 PB raw, x 0.75 = 138.24 PB
    assert (p.nodes, p.drives) == (384, 9_216)
    assert (p.raw_bytes, p.usable_capacity_bytes) == (184.32e15, 138.24e15)
    # 100 TB/day x 1.1 x 2 x 8 / 86,400 = 20.37 Gbit/s from the runners, x 16/12 = 27.16
    assert p.ingest_client_gbit == pytest.approx(20.370, abs=1e-3)
    assert p.ingest_drive_gbit == pytest.approx(27.160, abs=1e-3)
    # 20 TB x 0.8 / 100 MB/s = 160,000 s = 44.4 h; a node's 24 drives heal at 2.4 GB/s < 100 Gbit/s
    assert p.drive_rebuild_hours == pytest.approx(44.444, abs=1e-3)
    assert p.node_rebuild_hours == pytest.approx(44.444, abs=1e-3)
    # 4 parity drives, each set's 16 drives on 16 different nodes -> 4 nodes per pool may be down
    assert p.node_failures_tolerated == 4
    assert p.minio_env() == {"MINIO_STORAGE_CLASS_STANDARD": "EC:4"}


def test_a_tiny_dataset_still_gets_one_whole_pool() -> None:
    # 1 GB: every modality with a share gets one shard (ceil), media two objects each
    p = plan(build_inputs(petabytes=1e-6))
    assert [m.shards for m in p.modalities] == [1, 1, 1, 1]
    assert p.objects == 7 and p.shard_lists == 1
    assert (p.drives_needed, p.erasure_sets_needed, p.pools, p.nodes, p.drives) == (1, 1, 1, 32, 768)


def test_a_set_size_minio_would_not_pick_itself_is_set_explicitly() -> None:
    # 4 nodes x 6 drives = 24 drives: MinIO picks 12 (16 does not divide 24); --ec 6+2 wants 8
    p = plan(build_inputs(petabytes=0.001, ec="6+2", nodes_per_pool=4, drives_per_node=6))
    assert p.minio_set_size == 12
    assert p.minio_env() == {"MINIO_STORAGE_CLASS_STANDARD": "EC:2", "MINIO_ERASURE_SET_DRIVE_COUNT": "8"}


def test_a_slow_heal_and_a_saturated_network_are_warned_about() -> None:
    # 20 TB x 0.8 / 50 MB/s = 320,000 s = 88.9 h > 72 h
    slow = plan(build_inputs(petabytes=100, rebuild_mb_s=50))
    assert [w.split(" (")[0] for w in slow.warnings] == ["one drive takes 89 h to heal"]
    # lab: 100 TB/day x 1.1 x 2 x 8 / 86,400 x 16/12 = 27.16 Gbit/s over 4 servers = 6.8 > 5 (half of 10)
    lab = plan(build_inputs(petabytes=0.005, drive_tb=1, nodes_per_pool=4, drives_per_node=4, nic_gbit=10))
    assert lab.warnings == ["the ingest alone needs 6.8 Gbit/s per server, over 50% of its 10 Gbit/s: "
                            "add network or servers"]
    assert plan(build_inputs(petabytes=100)).warnings == []
    shown = runner.invoke(app, ["plan", "capacity", "--petabytes", "100", "--rebuild-mb-s", "50"])
    assert "warning: one drive takes 89 h to heal" in shown.output


def test_mix_accepts_fractions_or_percentages_and_fills_unnamed_modalities_with_zero() -> None:
    assert parse_mix("text=0.5,video=0.5") == {"text": 0.5, "image": 0.0, "audio": 0.0, "video": 0.5}
    assert parse_mix("text=10, image=40, audio=25, video=25") == {
        "text": 0.10, "image": 0.40, "audio": 0.25, "video": 0.25}


@pytest.mark.parametrize("given, says", [
    (dict(mix="text=50,image=10"), "--mix sums to 60: give fractions summing to 1"),
    (dict(mix="text=0.5,txt=0.5"), "--mix: unknown modality 'txt'"),
    (dict(mix="text"), "--mix: 'text' is not NAME=VALUE"),
    (dict(mix="text=half,video=0.5"), "--mix: text='half' is not a number"),
    (dict(mix="text=0.5,text=0.5"), "--mix: text is given twice"),
    (dict(record_kb="video=0"), "--record-kb: video=0.0 must be a number > 0"),
    (dict(ec="12-4"), "--ec '12-4': write DATA+PARITY"),
    (dict(ec="4+12"), "--ec 4+12: parity 12 exceeds data 4"),
    (dict(ec="16+4"), "--ec 16+4: a set of 20 drives; MinIO erasure sets have 2 to 16"),
    (dict(ec="12+0"), "--ec 12+0: needs at least 1 data and 1 parity drive"),
    (dict(petabytes=0), "--petabytes: Input should be greater than 0"),
    (dict(fill=1.0), "--fill: Input should be less than or equal to 0.95"),
    (dict(nodes_per_pool=5), "a pool of 5 nodes x 24 drives = 120 drives does not divide into erasure sets of 16"),
    (dict(nodes_per_pool=20, drives_per_node=3, ec="10+2"),
     "erasure sets of 12 drives cannot spread evenly over 20 nodes"),
])
def test_bad_inputs_are_one_line_errors_that_say_what_to_give(given: dict, says: str) -> None:
    with pytest.raises(CapacityInputError) as err:
        build_inputs(**{"petabytes": 1, **given})
    assert says in str(err.value) and "\n" not in str(err.value)


def test_cli_prints_every_section_with_its_formula() -> None:
    result = runner.invoke(app, ["plan", "capacity", "--petabytes", "100"])
    assert result.exit_code == 0, result.output
    for title in ("objects per modality", "metadata", "storage", "hardware", "MinIO layout", "network", "rebuild"):
        assert title in result.output
    assert "9,216" in result.output and "total (12 pools)" in result.output
    assert "R = U × 16/12 / 0.8" in result.output and "184.32 PB" in result.output


def test_cli_json_to_stdout_and_to_a_file_hold_the_same_plan(tmp_path: Path) -> None:
    args = ["plan", "capacity", "--petabytes", "1", "--mix", "text=1", "--drive-tb", "10",
            "--drives-per-node", "16", "--nodes-per-pool", "4", "--run-tables", "0"]
    shown = runner.invoke(app, [*args, "--json", "-"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert (data["drives_needed"], data["pools"], data["drives"]) == (167, 3, 192)
    assert data["inputs"]["ec"] == {"data": 12, "parity": 4}
    out = tmp_path / "plan.json"
    written = runner.invoke(app, [*args, "--json", str(out)])
    assert written.exit_code == 0 and f"plan written to {out}" in written.output
    assert json.loads(out.read_text()) == data


def test_cli_bad_option_exits_2_with_the_reason() -> None:
    result = runner.invoke(app, ["plan", "capacity", "--petabytes", "100", "--mix", "text=2,video=3"])
    assert result.exit_code == 2
    assert "--mix sums to 5" in result.output


def test_cli_help_teaches_units_and_an_example() -> None:
    result = runner.invoke(app, ["plan", "capacity", "--help"])
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    assert "kho plan capacity --petabytes 100" in flat and "decimal" in flat and "docs/capacity.md" in flat


def test_metadata_constants_match_a_measured_commit() -> None:
    # a real 50,000-row shard list committed through VersionStore, within 5% of the constant
    assert measure_shard_list_row_bytes() == pytest.approx(SHARD_LIST_ROW_BYTES, rel=0.05)
    base, per_list = measure_manifest_bytes()
    assert base == pytest.approx(MANIFEST_BASE_BYTES, rel=0.05)
    assert per_list == pytest.approx(MANIFEST_BYTES_PER_LIST, rel=0.05)


def test_docs_capacity_holds_the_worked_example_the_planner_prints() -> None:
    doc = (REPO / "docs" / "capacity.md").read_text(encoding="utf-8")
    assert render_markdown(example_plan()) in doc, (
        "docs/capacity.md's worked example differs from the planner's: paste the output of "
        "`python -m pipelines.capacity.report` between its example markers")


def test_every_formula_of_the_planner_is_written_out_in_docs_capacity() -> None:
    doc = (REPO / "docs" / "capacity.md").read_text(encoding="utf-8")
    equations = " ".join(" ".join(block.split()) for lang, block in re.findall(r"^```(\w*)\n(.*?)^```", doc, re.M | re.S)
                         if not lang)
    found = []
    for name, fn in inspect.getmembers(planner, inspect.isfunction):
        if fn.__module__ != planner.__name__ or not fn.__doc__:
            continue
        head = re.match(r"(\S+) = (.+?): ", " ".join(fn.__doc__.split()))
        if head:
            found.append(name)
            assert f"{head.group(1)} = {head.group(2)}" in equations, f"{name}: {head.group(0)} is not in docs/capacity.md"
    assert len(found) >= 27  # one per formula; plan(), plan_warnings() and minio_default_parity() have none


def test_the_headline_figures_in_the_prose_are_the_planners() -> None:
    p = example_plan()
    headline = [f"{p.pools} pools", f"{p.nodes} servers", f"{p.drives:,} drives",
                f"{p.raw_bytes / 10**15:.2f} PB raw", f"{p.usable_capacity_bytes / 10**15:.2f} PB usable",
                f"{p.fill_at_plan:.1%} full"]
    assert headline == ["12 pools", "384 servers", "9,216 drives", "184.32 PB raw", "138.24 PB usable", "79.6% full"]
    for doc in ("docs/capacity.md", "deploy/README.md", "deploy/minio/README.md"):
        text = " ".join((REPO / doc).read_text(encoding="utf-8").split())
        missing = [h for h in headline if h not in text]
        assert not missing, f"{doc} states other figures than the planner's 100 PB plan: {missing}"
