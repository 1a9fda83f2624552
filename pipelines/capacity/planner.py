"""The capacity plan: one pure function per formula of docs/capacity.md, and :func:`plan`.

Each function's docstring carries its equation with the symbols docs/capacity.md uses
(D dataset bytes, S shard bytes, k/m/n data/parity/set drives, f fill, T drive bytes, ...),
so the code and the doc can be read side by side. Nothing here does I/O.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from pipelines.capacity.model import MAX_SET_DRIVES, MIN_SET_DRIVES, MODALITIES, OBJECTS_PER_SHARD, CapacityInputs
from schemas.manifest import SHARD_LIST_MAX_ROWS

PB, TB, GIB, KB, MB = 10**15, 10**12, 2**30, 10**3, 10**6
SECONDS_PER_DAY = 86_400


# -- objects and metadata ------------------------------------------------------------------
def modality_bytes(dataset_bytes: float, share: float) -> float:
    """D_m = D × s_m: the bytes of one modality."""
    return dataset_bytes * share


def records(modality_bytes_: float, record_bytes: float) -> int:
    """R_m = round(D_m / r_m): records of one modality at its average record size."""
    return round(modality_bytes_ / record_bytes)


def shards(modality_bytes_: float, shard_bytes: float) -> int:
    """N_m = ceil(D_m / S): shards of one modality (0 bytes, 0 shards)."""
    return math.ceil(modality_bytes_ / shard_bytes)


def objects(shards_: int, objects_per_shard: int) -> int:
    """O_m = N_m × o_m: stored objects (o = 1 for Parquet text, 2 for a tar and its index)."""
    return shards_ * objects_per_shard


def shard_lists(rows: int, max_rows: int = SHARD_LIST_MAX_ROWS) -> int:
    """L = ceil(O / L_max): shard lists when every list is full (each commit adds at most one
    partial list, see docs/capacity.md)."""
    return math.ceil(rows / max_rows)


def shard_list_bytes(rows: int, row_bytes: float) -> int:
    """B_L = O × b_row: all shard lists together."""
    return math.ceil(rows * row_bytes)


def manifest_bytes(lists: int, base_bytes: int, bytes_per_list: int) -> int:
    """B_M = b_0 + L × b_list: one version's manifest when it holds every list."""
    return base_bytes + lists * bytes_per_list


# -- storage --------------------------------------------------------------------------------
def usable_bytes(dataset_bytes: float, run_table_fraction: float, metadata_bytes: float) -> float:
    """U = D × (1 + t) + B_L: what the cluster must hold (data, run tables, shard lists)."""
    return dataset_bytes * (1 + run_table_fraction) + metadata_bytes


def raw_bytes_needed(usable: float, data: int, parity: int, fill: float) -> float:
    """R = U × n / k / f: raw drive bytes so that U fills the usable space to f (n = k + m)."""
    return usable * (data + parity) / data / fill


def drives_needed(raw: float, drive_bytes: float) -> int:
    """N_drives = ceil(R / T): whole drives holding R."""
    return math.ceil(raw / drive_bytes)


def sets_needed(drives: int, set_drives: int) -> int:
    """N_sets = ceil(N_drives / n): whole erasure sets."""
    return math.ceil(drives / set_drives)


def nodes_needed(sets: int, set_drives: int, drives_per_node: int) -> int:
    """N_nodes = ceil(N_sets × n / d): whole nodes holding those sets."""
    return math.ceil(sets * set_drives / drives_per_node)


def sets_per_pool(nodes_per_pool: int, drives_per_node: int, set_drives: int) -> int:
    """E = P × d / n: erasure sets in one server pool (the inputs make it whole)."""
    return nodes_per_pool * drives_per_node // set_drives


def pools(sets: int, sets_in_pool: int) -> int:
    """N_pools = ceil(N_sets / E): identical server pools."""
    return math.ceil(sets / sets_in_pool)


def usable_of_raw(raw: float, data: int, parity: int) -> float:
    """U_inst = R_inst × k / n: usable bytes of installed raw bytes."""
    return raw * data / (data + parity)


def minio_set_size(nodes: int, drives_per_node: int) -> int:
    """n_auto = largest s in 2..16 with (P × d) mod s = 0 and (s mod P = 0 or P mod s = 0): the
    erasure set size MinIO picks by itself for one pool, one that divides the pool's drives and
    spreads evenly over its nodes. 0 when none does (MinIO refuses the pool)."""
    total = nodes * drives_per_node
    for size in range(MAX_SET_DRIVES, MIN_SET_DRIVES - 1, -1):
        if total % size == 0 and (size % nodes == 0 or nodes % size == 0):
            return size
    return 0


def minio_default_parity(set_drives: int) -> int:
    """MinIO's default STANDARD parity for a set size: EC:4 from 8 drives, EC:3 for 6-7,
    EC:2 for 4-5, EC:1 for 2-3."""
    return 4 if set_drives >= 8 else 3 if set_drives >= 6 else 2 if set_drives >= 4 else 1


def set_drives_per_node(set_drives: int, nodes_per_pool: int) -> int:
    """n_node = ceil(n / P): drives one erasure set has on one node (1 when P >= n)."""
    return math.ceil(set_drives / nodes_per_pool)


def node_failures_tolerated(parity: int, drives_of_set_on_node: int) -> int:
    """F_nodes = floor(m / n_node): nodes of a pool that may be down with every object readable."""
    return parity // drives_of_set_on_node


# -- network and rebuild ----------------------------------------------------------------------
def ingest_client_gbit(ingest_bytes_per_day: float, run_table_fraction: float, peak: float) -> float:
    """G_in = I × (1 + t) × p × 8 / 86,400 / 10^9: peak Gbit/s the runners write (shards and
    run tables)."""
    return ingest_bytes_per_day * (1 + run_table_fraction) * peak * 8 / SECONDS_PER_DAY / 10**9


def ingest_drive_gbit(client_gbit: float, data: int, parity: int) -> float:
    """G_ec = G_in × n / k: what reaches the drives once erasure-coded (an upper bound
    on the traffic between nodes: every part but the receiving node's crosses the network)."""
    return client_gbit * (data + parity) / data


def ingest_gbit_per_node(drive_gbit: float, nodes: int) -> float:
    """G_node = G_ec / nodes: the ingest's share of one server's network, at peak."""
    return drive_gbit / nodes


def days_to_fill(dataset_bytes: float, ingest_bytes_per_day: float) -> float:
    """t_fill = D / I: days of ingest at the average rate to reach D."""
    return dataset_bytes / ingest_bytes_per_day


def drive_rebuild_hours(drive_bytes: float, fill: float, rebuild_bytes_s: float) -> float:
    """t_drive = T × f / h / 3,600: hours to heal one failed drive filled to f."""
    return drive_bytes * fill / rebuild_bytes_s / 3600


def drive_rebuild_read_gbit(data: int, rebuild_bytes_s: float) -> float:
    """G_drive = k × h × 8 / 10^9: reads from the other drives of the set while one heals
    (each healed byte is decoded from k parts)."""
    return data * rebuild_bytes_s * 8 / 10**9


def node_rebuild_write_bytes_s(drives_per_node: int, rebuild_bytes_s: float, nic_gbit: float) -> float:
    """w_node = min(d × h, NIC × 10^9 / 8): heal writes into a replaced node, drive- or NIC-bound."""
    return min(drives_per_node * rebuild_bytes_s, nic_gbit * 10**9 / 8)


def node_rebuild_hours(drives_per_node: int, drive_bytes: float, fill: float, write_bytes_s: float) -> float:
    """t_node = d × T × f / w_node / 3,600: hours to heal every drive of one replaced node."""
    return drives_per_node * drive_bytes * fill / write_bytes_s / 3600


def node_rebuild_read_gbit(data: int, write_bytes_s: float) -> float:
    """G_node_h = k × w_node × 8 / 10^9: reads across the pool while a node heals."""
    return data * write_bytes_s * 8 / 10**9


# -- the plan -----------------------------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModalityPlan(_Frozen):
    """One modality's bytes, records, shards and stored objects."""

    modality: str
    share: float
    bytes: float
    record_bytes: float
    records: int
    shards: int
    objects: int


class PoolPlan(_Frozen):
    """One server pool (every pool of the plan is the same)."""

    nodes: int
    drives: int
    erasure_sets: int
    raw_bytes: float
    usable_bytes: float


class CapacityPlan(_Frozen):
    """Everything ``kho plan capacity`` prints; all bytes are plain bytes (no unit)."""

    inputs: CapacityInputs
    shard_bytes: int
    modalities: list[ModalityPlan]
    objects: int
    shard_list_rows: int
    shard_lists: int
    shard_list_bytes: int
    manifest_bytes: int
    dataset_bytes: float
    run_table_bytes: float
    usable_bytes: float
    raw_bytes_needed: float
    drives_needed: int
    erasure_sets_needed: int
    nodes_needed: int
    pool: PoolPlan
    pools: int
    nodes: int
    drives: int
    erasure_sets: int
    raw_bytes: float
    usable_capacity_bytes: float
    fill_at_plan: float
    minio_set_size: int
    minio_default_parity: int
    set_drives_per_node: int
    node_failures_tolerated: int
    ingest_client_gbit: float
    ingest_drive_gbit: float
    ingest_drive_gbit_per_node: float
    days_to_fill: float
    drive_rebuild_hours: float
    drive_rebuild_read_gbit: float
    node_rebuild_hours: float
    node_rebuild_read_gbit: float
    warnings: list[str]

    def minio_env(self) -> dict[str, str]:
        """The MinIO server settings this plan assumes (parity; set size if not MinIO's own pick)."""
        env = {"MINIO_STORAGE_CLASS_STANDARD": f"EC:{self.inputs.ec.parity}"}
        if self.minio_set_size != self.inputs.ec.set_drives:
            env["MINIO_ERASURE_SET_DRIVE_COUNT"] = str(self.inputs.ec.set_drives)
        return env


#: Heal times above this leave a set with less parity for too long (3 days).
SLOW_HEAL_HOURS = 72.0
#: Share of a server's network that the ingest alone may take before the plan says so.
INGEST_NIC_SHARE = 0.5


def plan_warnings(inputs: CapacityInputs, drive_hours: float, per_node_gbit: float) -> list[str]:
    """What in a plan an operator should change before buying it (empty: nothing)."""
    out = []
    if drive_hours > SLOW_HEAL_HOURS:
        out.append(f"one drive takes {drive_hours:.0f} h to heal (over {SLOW_HEAL_HOURS:.0f} h), with its set "
                   "one parity drive short meanwhile: use smaller drives, more parity or a faster heal")
    if per_node_gbit > INGEST_NIC_SHARE * inputs.nic_gbit:
        out.append(f"the ingest alone needs {per_node_gbit:.1f} Gbit/s per server, over "
                   f"{INGEST_NIC_SHARE:.0%} of its {inputs.nic_gbit:g} Gbit/s: add network or servers")
    return out


def plan(inputs: CapacityInputs) -> CapacityPlan:
    """Work out the whole plan from ``inputs`` with the formulas above, in docs/capacity.md order."""
    k, m, n = inputs.ec.data, inputs.ec.parity, inputs.ec.set_drives
    d, p = inputs.drives_per_node, inputs.nodes_per_pool
    dataset = inputs.petabytes * PB
    shard = round(inputs.shard_gib * GIB)
    drive = inputs.drive_tb * TB
    mods = []
    for name in MODALITIES:
        b = modality_bytes(dataset, inputs.mix[name])
        record = inputs.record_kb[name] * KB
        ns = shards(b, shard)
        mods.append(ModalityPlan(modality=name, share=inputs.mix[name], bytes=b, record_bytes=record,
                                 records=records(b, record), shards=ns,
                                 objects=objects(ns, OBJECTS_PER_SHARD[name])))
    rows = sum(x.objects for x in mods)
    lists = shard_lists(rows)
    list_bytes = shard_list_bytes(rows, inputs.shard_list_row_bytes)
    usable = usable_bytes(dataset, inputs.run_table_fraction, list_bytes)
    raw_needed = raw_bytes_needed(usable, k, m, inputs.fill)
    n_drives = drives_needed(raw_needed, drive)
    n_sets = sets_needed(n_drives, n)
    e = sets_per_pool(p, d, n)
    n_pools = pools(n_sets, e)
    pool = PoolPlan(nodes=p, drives=p * d, erasure_sets=e, raw_bytes=p * d * drive,
                    usable_bytes=usable_of_raw(p * d * drive, k, m))
    raw = n_pools * pool.raw_bytes
    usable_capacity = usable_of_raw(raw, k, m)
    per_node_set = set_drives_per_node(n, p)
    client = ingest_client_gbit(inputs.ingest_tb_per_day * TB, inputs.run_table_fraction, inputs.peak_factor)
    to_drives = ingest_drive_gbit(client, k, m)
    heal = inputs.rebuild_mb_s * MB
    node_write = node_rebuild_write_bytes_s(d, heal, inputs.nic_gbit)
    drive_hours = drive_rebuild_hours(drive, inputs.fill, heal)
    return CapacityPlan(
        inputs=inputs, shard_bytes=shard, modalities=mods, objects=rows, shard_list_rows=rows,
        shard_lists=lists, shard_list_bytes=list_bytes,
        manifest_bytes=manifest_bytes(lists, inputs.manifest_base_bytes, inputs.manifest_bytes_per_list),
        dataset_bytes=dataset, run_table_bytes=dataset * inputs.run_table_fraction,
        usable_bytes=usable, raw_bytes_needed=raw_needed, drives_needed=n_drives,
        erasure_sets_needed=n_sets, nodes_needed=nodes_needed(n_sets, n, d),
        pool=pool, pools=n_pools, nodes=n_pools * p, drives=n_pools * pool.drives,
        erasure_sets=n_pools * e, raw_bytes=raw, usable_capacity_bytes=usable_capacity,
        fill_at_plan=usable / usable_capacity,
        minio_set_size=minio_set_size(p, d), minio_default_parity=minio_default_parity(n),
        set_drives_per_node=per_node_set, node_failures_tolerated=node_failures_tolerated(m, per_node_set),
        ingest_client_gbit=client, ingest_drive_gbit=to_drives,
        ingest_drive_gbit_per_node=ingest_gbit_per_node(to_drives, n_pools * p),
        days_to_fill=days_to_fill(dataset, inputs.ingest_tb_per_day * TB),
        drive_rebuild_hours=drive_hours,
        drive_rebuild_read_gbit=drive_rebuild_read_gbit(k, heal),
        node_rebuild_hours=node_rebuild_hours(d, drive, inputs.fill, node_write),
        node_rebuild_read_gbit=node_rebuild_read_gbit(k, node_write),
        warnings=plan_warnings(inputs, drive_hours, ingest_gbit_per_node(to_drives, n_pools * p)),
    )
