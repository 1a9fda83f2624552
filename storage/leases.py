"""Run leases and input claims: what stops two runs from ingesting the same input, and gc
from deleting what a live run will reference.

A run first creates its lease ``leases/<dataset>/runs/<run>.json`` (a conditional create) and
keeps it fresh with a heartbeat thread while it works. It then claims each input it plans to
read with a conditional create of ``leases/<dataset>/inputs/<unit>.json`` naming the run. An
input whose claim names a *live* run is skipped (and reported); a claim whose run is dead (its
lease missing, its heartbeat older than the TTL, or its process gone on this host) is taken
over through a one-time token ``<claim>.takeover-<dead run>``, so of several runs that find
the same dead claim exactly one replaces it. After its commit, or when it fails, a run
deletes its claims and its lease; a SIGKILLed run leaves them for the TTL, then any run or
``gc`` may take them over.

Liveness is judged by the lease object's modification time on the store's clock compared
with this machine's clock: keep hosts NTP-synced and the TTL well above any skew.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError, StoreError
from storage.layout import input_claim_key, leases_prefix, run_lease_key

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 120.0


class LeaseError(StoreError):
    """A run could not take or keep its lease."""


class InputsHeldError(LeaseError):
    """Every input a run would ingest is being ingested by another live run."""


class LeaseLostError(LeaseError):
    """A run's claims were taken over (it looked dead); it must not commit."""


def lease_ttl_s() -> float:
    """Seconds without a heartbeat after which a run counts as dead (``KHO_LEASE_TTL_S``)."""
    return float(os.environ.get("KHO_LEASE_TTL_S", DEFAULT_TTL_S))


def _proc_start(pid: int) -> str:
    """The kernel's start time of ``pid`` (tells a reused pid apart); '' if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _this_process() -> dict[str, object]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "proc_start": _proc_start(pid)}


def _process_gone(holder: dict) -> bool:
    """True only when the holder ran on this host and its process no longer exists."""
    if holder.get("host") != socket.gethostname() or not holder.get("pid"):
        return False
    pid = int(holder["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    start = holder.get("proc_start")
    return bool(start) and _proc_start(pid) not in ("", start)


@dataclass(frozen=True)
class LeaseState:
    """What the store says about one run's lease."""

    run_id: str
    live: bool
    age_s: float | None  # seconds since the last heartbeat; None when there is no lease
    body: dict


def lease_state(store: ObjectStore, dataset: str, run_id: str, ttl_s: float | None = None) -> LeaseState:
    """Whether ``run_id`` holds a live lease on ``dataset``."""
    ttl_s = lease_ttl_s() if ttl_s is None else ttl_s
    key = run_lease_key(dataset, run_id)
    try:
        info = store.stat(key)
        body = json.loads(store.get_bytes(key))
    except (ObjectNotFoundError, ValueError):
        return LeaseState(run_id, False, None, {})
    age = (datetime.now(timezone.utc) - info.modified).total_seconds()
    live = age < ttl_s and body.get("state") != "released" and not _process_gone(body)
    return LeaseState(run_id, live, age, body)


def live_runs(store: ObjectStore, dataset: str, ttl_s: float | None = None) -> set[str]:
    """Run ids with a live lease on ``dataset`` (one short listing of the leases folder)."""
    out = set()
    for name in store.list_children(f"{leases_prefix(dataset)}/runs"):
        if name.endswith(".json") and lease_state(store, dataset, name[:-5], ttl_s).live:
            out.add(name[:-5])
    return out


class RunLease:
    """One run's lease on a dataset, its heartbeat, and the inputs it claims."""

    def __init__(self, store: ObjectStore, dataset: str, run_id: str, *,
                 ttl_s: float | None = None) -> None:
        self.store, self.dataset, self.run_id = store, dataset, run_id
        self.ttl_s = lease_ttl_s() if ttl_s is None else ttl_s
        self.claimed: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = datetime.now(timezone.utc).isoformat()

    def _body(self, state: str = "running") -> bytes:
        return json.dumps({"run_id": self.run_id, "dataset": self.dataset, "state": state,
                           "started": self._started, **_this_process()}).encode()

    # -- the run lease -----------------------------------------------------------------
    def acquire(self) -> None:
        """Create the lease and start heartbeating (every TTL/4)."""
        if not self.store.put_if_absent(run_lease_key(self.dataset, self.run_id), self._body(),
                                        "application/json"):
            raise LeaseError(f"run id {self.run_id} already has a lease on {self.dataset}: "
                             "run ids must be unique; start the run again")
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.run_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            try:
                self.store.put_bytes(run_lease_key(self.dataset, self.run_id), self._body(),
                                     "application/json")
            except StoreError as exc:  # the next beat may succeed; a lost lease is caught at commit
                log.warning("lease heartbeat of run %s failed: %s", self.run_id, exc)

    def release(self) -> None:
        """Stop the heartbeat, drop every claim, then the lease itself."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        for unit_id in self.claimed:
            key = input_claim_key(self.dataset, unit_id)
            try:
                if json.loads(self.store.get_bytes(key)).get("run_id") == self.run_id:
                    self.store.delete(key)
            except (ObjectNotFoundError, ValueError):
                pass
        self.claimed = []
        self.store.delete(run_lease_key(self.dataset, self.run_id))

    # -- input claims ------------------------------------------------------------------
    def claim(self, units: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Claim each ``(unit_id, uri)``; return {unit_id: holder run} for those held by live runs."""
        held: dict[str, str] = {}
        for unit_id, uri in units:
            holder = self._claim_one(unit_id, uri)
            if holder is None:
                self.claimed.append(unit_id)
            else:
                held[unit_id] = holder
        return held

    def _claim_one(self, unit_id: str, uri: str) -> str | None:
        key = input_claim_key(self.dataset, unit_id)
        body = json.dumps({"run_id": self.run_id, "unit_id": unit_id, "uri": uri}).encode()
        for _ in range(3):
            if self.store.put_if_absent(key, body, "application/json"):
                return None
            try:
                holder = json.loads(self.store.get_bytes(key)).get("run_id", "")
            except ObjectNotFoundError:
                continue  # released in between: try again
            except ValueError:
                holder = ""
            if holder == self.run_id:
                return None
            if lease_state(self.store, self.dataset, holder, self.ttl_s).live:
                return holder
            if not self.store.put_if_absent(f"{key}.takeover-{holder or 'unknown'}",
                                            self.run_id.encode()):
                return holder  # another run is taking this dead claim over
            log.info("input %s: claim of dead run %s taken over by %s", uri, holder, self.run_id)
            self.store.delete(key)
        return holder or "unknown"

    def release_claims(self, unit_ids: Iterable[str]) -> None:
        """Give back claims on inputs this run will not read after all (already ingested)."""
        drop = set(unit_ids)
        for unit_id in drop:
            self.store.delete(input_claim_key(self.dataset, unit_id))
        self.claimed = [u for u in self.claimed if u not in drop]

    def check_claims(self) -> None:
        """Raise LeaseLostError unless the lease and every claim still name this run."""
        state = lease_state(self.store, self.dataset, self.run_id, self.ttl_s)
        if state.body.get("run_id") != self.run_id:
            raise LeaseLostError(f"run {self.run_id} lost its lease on {self.dataset} (no heartbeat "
                                 f"for over {self.ttl_s:.0f} s?); nothing committed, rerun")
        for unit_id in self.claimed:
            try:
                holder = json.loads(self.store.get_bytes(input_claim_key(self.dataset, unit_id)))["run_id"]
            except (ObjectNotFoundError, ValueError, KeyError):
                holder = None
            if holder != self.run_id:
                raise LeaseLostError(f"run {self.run_id}: input {unit_id} is now claimed by "
                                     f"{holder or 'nobody'}; nothing committed, rerun")
