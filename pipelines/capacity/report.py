"""A capacity plan as tables: the same rows for the CLI's rich tables and docs/capacity.md.

docs/capacity.md's worked example is :func:`render_markdown` of the default 100 PB plan, and
tests/test_capacity.py checks that the doc contains exactly that text; after changing a
formula or a default, refresh the doc with ``python -m pipelines.capacity.report``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pipelines.capacity.model import CapacityInputs
from pipelines.capacity.planner import GIB, CapacityPlan, plan

#: The inputs of the worked example in docs/capacity.md (every other input at its default).
EXAMPLE_INPUTS = {"petabytes": 100}


def fmt_bytes(n: float) -> str:
    """Decimal units (kB, MB, GB, TB, PB: powers of 1000), as drives and the plan count."""
    for unit, size in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f} B"


def fmt_count(n: int) -> str:
    return f"{n:,}"


def fmt_number(x: float) -> str:
    """Whole numbers from 10 up, one decimal below (a lab fills in 0.1 days, not 0)."""
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


@dataclass(frozen=True)
class Section:
    """One table: a title, its column headers and its rows (all cells as text)."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]


def sections(p: CapacityPlan) -> list[Section]:
    """Every figure of the plan, grouped as printed, each with the formula that gives it."""
    i = p.inputs
    ec = i.ec
    mods = Section("objects per modality", ("modality", "share", "bytes", "avg record", "records",
                                             "shards", "objects"),
                   [(m.modality, f"{m.share:.1%}", fmt_bytes(m.bytes), fmt_bytes(m.record_bytes),
                     fmt_count(m.records), fmt_count(m.shards), fmt_count(m.objects)) for m in p.modalities])
    mods.rows.append(("total", "100.0%", fmt_bytes(p.dataset_bytes), "",
                      fmt_count(sum(m.records for m in p.modalities)),
                      fmt_count(sum(m.shards for m in p.modalities)), fmt_count(p.objects)))
    meta = Section("metadata", ("what", "value", "formula"), [
        ("shard size", f"{p.shard_bytes / GIB:g} GiB ({fmt_count(p.shard_bytes)} B)", "S"),
        ("shard-list rows (objects)", fmt_count(p.shard_list_rows), "O = Σ N_m × o_m"),
        ("shard lists (full)", fmt_count(p.shard_lists), "L = ceil(O / 50,000)"),
        ("shard lists, all bytes", fmt_bytes(p.shard_list_bytes), f"B_L = O × {i.shard_list_row_bytes:g} B"),
        ("manifest of a version holding all", fmt_bytes(p.manifest_bytes),
         f"B_M = {i.manifest_base_bytes} B + L × {i.manifest_bytes_per_list} B"),
    ])
    storage = Section("storage", ("what", "value", "formula"), [
        ("dataset", fmt_bytes(p.dataset_bytes), "D"),
        ("run tables", fmt_bytes(p.run_table_bytes), f"D × t (t = {i.run_table_fraction:g})"),
        ("usable bytes to hold", fmt_bytes(p.usable_bytes), "U = D × (1 + t) + B_L"),
        ("raw bytes needed", fmt_bytes(p.raw_bytes_needed), f"R = U × {ec.set_drives}/{ec.data} / {i.fill:g}"),
        ("drives needed", fmt_count(p.drives_needed), f"ceil(R / {i.drive_tb:g} TB)"),
        ("erasure sets needed", fmt_count(p.erasure_sets_needed), f"ceil(drives / {ec.set_drives})"),
        ("nodes needed", fmt_count(p.nodes_needed), f"ceil(sets × {ec.set_drives} / {i.drives_per_node})"),
        ("server pools", fmt_count(p.pools), f"ceil(sets / {p.pool.erasure_sets})"),
        ("fill at plan", f"{p.fill_at_plan:.1%}", "U / usable installed"),
    ])
    hw = Section("hardware", ("what", "per pool", f"total ({p.pools} pool{'s' if p.pools != 1 else ''})"), [
        ("nodes", fmt_count(p.pool.nodes), fmt_count(p.nodes)),
        ("drives", fmt_count(p.pool.drives), fmt_count(p.drives)),
        ("erasure sets", fmt_count(p.pool.erasure_sets), fmt_count(p.erasure_sets)),
        ("raw capacity", fmt_bytes(p.pool.raw_bytes), fmt_bytes(p.raw_bytes)),
        ("usable capacity", fmt_bytes(p.pool.usable_bytes), fmt_bytes(p.usable_capacity_bytes)),
    ])
    env = " ".join(f"{k}={v}" for k, v in p.minio_env().items())
    layout = Section("MinIO layout", ("what", "value", "formula"), [
        ("erasure code", f"{ec.data}+{ec.parity} (EC:{ec.parity}, set of {ec.set_drives})", "k + m = n"),
        ("MinIO's own set size for a pool", str(p.minio_set_size), "largest of 2..16 dividing P × d, even over P"),
        ("drives of one set per node", str(p.set_drives_per_node), f"ceil({ec.set_drives} / {i.nodes_per_pool})"),
        ("nodes down per pool, data readable", str(p.node_failures_tolerated), f"floor({ec.parity} / n_node)"),
        ("server settings", env, ""),
    ])
    net = Section("network", ("what", "value", "formula"), [
        ("ingest", f"{i.ingest_tb_per_day:g} TB/day", "I"),
        ("days to reach the dataset size", fmt_number(p.days_to_fill), "D / I"),
        ("runners → MinIO, peak", f"{p.ingest_client_gbit:.1f} Gbit/s",
         f"I × (1 + t) × {i.peak_factor:g} × 8 / 86400"),
        ("onto drives (erasure-coded), peak", f"{p.ingest_drive_gbit:.1f} Gbit/s", f"G_in × {ec.set_drives}/{ec.data}"),
        ("per node, peak", f"{p.ingest_drive_gbit_per_node:.2f} Gbit/s", f"G_ec / {p.nodes}"),
    ])
    heal = Section("rebuild", ("what", "value", "formula"), [
        ("one drive: time", f"{p.drive_rebuild_hours:.1f} h", f"T × f / {i.rebuild_mb_s:g} MB/s"),
        ("one drive: reads from its set", f"{p.drive_rebuild_read_gbit:.1f} Gbit/s", "k × h × 8"),
        ("one node: time", f"{p.node_rebuild_hours:.1f} h", f"d × T × f / min(d × h, {i.nic_gbit:g} Gbit/s)"),
        ("one node: reads across its pool", f"{p.node_rebuild_read_gbit:.1f} Gbit/s", "k × w_node × 8"),
    ])
    return [mods, meta, storage, hw, layout, net, heal]


def render_markdown(p: CapacityPlan) -> str:
    """The plan as GitHub markdown tables, one per section (what docs/capacity.md shows)."""
    out = []
    for s in sections(p):
        out.append(f"**{s.title}**\n")
        out.append("| " + " | ".join(s.headers) + " |")
        out.append("|" + "|".join(" --- " for _ in s.headers) + "|")
        for row in s.rows:
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        out.append("")
    if p.warnings:
        out.extend(["**warnings**", "", *(f"* {w}" for w in p.warnings), ""])
    return "\n".join(out)


def example_plan() -> CapacityPlan:
    """The worked example of docs/capacity.md."""
    return plan(CapacityInputs(**EXAMPLE_INPUTS))


if __name__ == "__main__":
    sys.stdout.write(render_markdown(example_plan()))
