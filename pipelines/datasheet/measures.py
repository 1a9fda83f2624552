"""Small aggregations shared by the modality sections: counters with shares, quantiles,
domain concentration, and the shape of one skew indicator."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

QUANTILES = (5, 25, 50, 75, 95)
#: Values kept per signal for quantiles; above it every other value is dropped (a systematic
#: sample), so memory stays bounded on any version size.
MAX_VALUES = 1_000_000


class Values:
    """Numbers of one signal; quantiles are exact up to MAX_VALUES values."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.n = 0
        self.seen = 0
        self.step = 1

    def add(self, values: Any) -> None:
        arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
        self.seen += len(arr)
        if self.step > 1:
            arr = arr[::self.step]
        self.parts.append(arr)
        self.n += len(arr)
        if self.n > MAX_VALUES:
            merged = np.concatenate(self.parts)[::2]
            self.parts, self.n, self.step = [merged], len(merged), self.step * 2

    def array(self) -> np.ndarray:
        """The kept values as one array (every ``step``-th value seen)."""
        return np.concatenate(self.parts) if self.parts else np.zeros(0)

    @classmethod
    def from_array(cls, arr: np.ndarray, *, seen: int, step: int) -> Values:
        """Values as :meth:`array`, ``seen`` and ``step`` left them (a stored scan)."""
        v = cls()
        v.parts, v.n, v.seen, v.step = [np.asarray(arr, dtype=np.float64)], len(arr), int(seen), int(step)
        return v

    def merge(self, other: Values) -> None:
        """Add the values of a scan of other rows; the sparser sampling of the two wins."""
        mine, theirs = self.array(), other.array()
        step = max(self.step, other.step)
        mine, theirs = mine[::step // self.step], theirs[::step // other.step]
        self.parts, self.n, self.step = [mine, theirs], len(mine) + len(theirs), step
        self.seen += other.seen
        while self.n > MAX_VALUES:
            merged = np.concatenate(self.parts)[::2]
            self.parts, self.n, self.step = [merged], len(merged), self.step * 2

    def summary(self) -> dict[str, Any]:
        """count, min, max, mean and p5..p95 (None without values)."""
        arr = np.concatenate(self.parts) if self.parts else np.zeros(0)
        if not len(arr):
            return {"count": 0}
        q = np.percentile(arr, QUANTILES)
        return {"count": self.seen, "min": float(arr.min()), "max": float(arr.max()),
                "mean": round(float(arr.mean()), 6),
                **{f"p{p}": round(float(v), 6) for p, v in zip(QUANTILES, q)},
                "sampled": self.step > 1}


def shares(counter: Counter, total: int | None = None, top: int | None = None) -> list[dict[str, Any]]:
    """``[{"value", "count", "share"}]`` largest first (ties by value), ``top`` of them."""
    total = sum(counter.values()) if total is None else total
    items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if top is not None:
        items = items[:top]
    return [{"value": k, "count": v, "share": round(v / total, 6) if total else 0.0} for k, v in items]


def herfindahl(counter: Counter) -> float:
    """Sum of squared shares: 1/N for N equal domains, 1 for one domain."""
    total = sum(counter.values())
    return round(sum((v / total) ** 2 for v in counter.values()), 6) if total else 0.0


def indicator(value: Any, measures: str, limits: str, *, flagged: bool, bound: Any = None,
              **extra: Any) -> dict[str, Any]:
    """One skew indicator: its value, what it measures, its limits, and whether a bound is crossed."""
    return {"value": value, "measures": measures, "limits": limits, "flagged": bool(flagged),
            "bound": bound, **extra}


def domain_indicators(domains: Counter, bounds) -> dict[str, Any]:
    """Top-domain shares and the Herfindahl index of a domain counter (rows without a
    domain, the None key, are left out)."""
    domains = Counter({k: v for k, v in domains.items() if k})
    total = sum(domains.values())
    top = shares(domains, total, top=10)
    top1 = top[0]["share"] if top else 0.0
    top5 = round(sum(d["count"] for d in top[:5]) / total, 6) if total else 0.0
    hhi = herfindahl(domains)
    limits = ("Counts rows per registered domain (see the domain rule); rows without a URL are "
              "left out. One domain can host many independent authors, and mirrors under "
              "different domains are counted apart.")
    return {
        "top_domain_share": indicator(top1, "share of rows from the largest domain", limits,
                                      flagged=top1 > bounds.max_top_domain_share,
                                      bound=bounds.max_top_domain_share,
                                      domain=top[0]["value"] if top else None),
        "top5_domain_share": indicator(top5, "share of rows from the five largest domains", limits,
                                       flagged=top5 > bounds.max_top5_domain_share,
                                       bound=bounds.max_top5_domain_share),
        "domain_hhi": indicator(hhi, "Herfindahl index of domain shares (1/N for N equal domains, "
                                "1 for a single domain)", limits,
                                flagged=hhi > bounds.max_domain_hhi, bound=bounds.max_domain_hhi,
                                domains=len(domains)),
    }


def time_indicator(months: Counter, bounds) -> dict[str, Any]:
    """Time coverage from crawl months (``YYYY-MM``)."""
    known = sorted(m for m in months if m)
    value = {"first_month": known[0] if known else None, "last_month": known[-1] if known else None,
             "months_covered": len(known), "rows_without_date": months.get(None, 0)}
    return indicator(value, "crawl months the rows come from",
                     "Crawl date is when a page was fetched, not when it was written; "
                     "rows without a crawl date are counted apart.",
                     flagged=len(known) < bounds.min_months_covered, bound=bounds.min_months_covered)


def month_of(crawl_date: str | None) -> str | None:
    """``YYYY-MM`` of an ISO date or timestamp, None when absent or not ISO-like."""
    if not crawl_date or len(crawl_date) < 7 or crawl_date[4] != "-":
        return None
    return crawl_date[:7]
