"""Small inline-SVG charts for the run report: bar charts and stacked histograms.

The report is written at the end of every run, on one worker, so its plots must cost
milliseconds, not the seconds a plotting library spends per figure; and they must stay
self-contained in the HTML file. These functions write SVG elements directly: text stays
text (searchable, small), colours and sizes are fixed, nothing is fetched.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

FONT = "font-family='sans-serif'"
AXIS = "#444"


def _fmt(value: float) -> str:
    """A tick or count label: integers plainly, thousands with separators, small values to 3 figures."""
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:.3g}"


def _text(x: float, y: float, s: str, size: int = 11, anchor: str = "start", extra: str = "") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' {FONT} {extra}>"
            f"{html.escape(s)}</text>")


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img'><title>{html.escape(title)}</title>"
            + _text(width / 2, 16, title, 13, "middle", "font-weight='bold'") + "".join(body) + "</svg>")


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, color: str = "#1565c0",
              horizontal: bool = False) -> str:
    """Bars with their value written at the end; horizontal for long labels (reasons, types)."""
    vmax = max([float(v) for v in values] + [1.0])
    if horizontal:
        label_w, row_h, plot_w = 260, 20, 340
        height = 30 + row_h * len(labels) + 10
        body = []
        for i, (label, v) in enumerate(zip(labels, values)):
            y = 28 + i * row_h
            w = plot_w * float(v) / vmax
            body.append(_text(label_w - 6, y + 13, str(label), 11, "end"))
            body.append(f"<rect x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{row_h - 5}' fill='{color}'/>")
            body.append(_text(label_w + w + 4, y + 13, _fmt(float(v)), 10))
        return _svg(label_w + plot_w + 70, height, body, title)
    n = max(len(labels), 1)
    slot, plot_h, top = min(90, 560 // n), 170, 30
    width = 50 + slot * n + 20
    body = [f"<line x1='45' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' stroke='{AXIS}'/>"]
    for i, (label, v) in enumerate(zip(labels, values)):
        h = plot_h * float(v) / vmax
        x = 50 + i * slot
        body.append(f"<rect x='{x + 6}' y='{top + plot_h - h:.1f}' width='{slot - 12}' height='{h:.1f}' "
                    f"fill='{color}'/>")
        body.append(_text(x + slot / 2, top + plot_h - h - 4, _fmt(float(v)), 10, "middle"))
        body.append(_text(x + slot / 2, top + plot_h + 15, str(label), 10, "middle"))
    return _svg(width, top + plot_h + 28, body, title)


def stacked_histogram(groups: dict[str, list[float]], colors: dict[str, str], title: str, *,
                      threshold: float | None = None, direction: str = "", bins: int = 40) -> str:
    """Histogram of values stacked by group (outcome), with an optional dashed threshold line.

    NaN and infinite values cannot be placed on an axis: they are left out and counted in the
    legend as "not plotted"."""
    arrays = {name: np.asarray(v, dtype=float) for name, v in groups.items()}
    dropped = sum(int((~np.isfinite(a)).sum()) for a in arrays.values())
    arrays = {name: a[np.isfinite(a)] for name, a in arrays.items()}
    every = np.concatenate(list(arrays.values()) + [np.zeros(0)])
    if every.size == 0:
        every = np.zeros(1)  # nothing finite: an empty axis around 0
    lo, hi = float(every.min()), float(every.max())
    if threshold is not None and math.isfinite(threshold):
        lo, hi = min(lo, threshold), max(hi, threshold)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = {name: np.histogram(a, bins=edges)[0] for name, a in arrays.items()}
    totals = sum(counts.values())
    ymax = max(int(totals.max()), 1)
    left, top, plot_w, plot_h = 50, 30, 400, 150
    sx = plot_w / (hi - lo)
    bar_w = plot_w / bins
    body = [f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='{AXIS}'/>",
            f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='{AXIS}'/>",
            _text(left - 4, top + 8, _fmt(ymax), 10, "end"), _text(left - 4, top + plot_h, "0", 10, "end")]
    base = np.zeros(bins)
    for name, c in counts.items():
        for i in np.nonzero(c)[0]:
            h = plot_h * c[i] / ymax
            y = top + plot_h - plot_h * base[i] / ymax - h
            body.append(f"<rect x='{left + i * bar_w:.1f}' y='{y:.1f}' width='{max(bar_w - 0.5, 0.5):.1f}' "
                        f"height='{h:.1f}' fill='{colors.get(name, '#999')}'/>")
        base += c
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        x = left + plot_w * k / 4
        body.append(f"<line x1='{x:.1f}' y1='{top + plot_h}' x2='{x:.1f}' y2='{top + plot_h + 4}' stroke='{AXIS}'/>")
        body.append(_text(x, top + plot_h + 16, _fmt(round(v, 6)), 10, "middle"))
    if threshold is not None and math.isfinite(threshold):
        x = left + (threshold - lo) * sx
        body.append(f"<line x1='{x:.1f}' y1='{top - 4}' x2='{x:.1f}' y2='{top + plot_h}' stroke='black' "
                    f"stroke-dasharray='5,3' stroke-width='1.2'/>")
        near_right = x > left + 0.8 * plot_w  # write the label on the left of the line there
        body.append(_text(x - 3 if near_right else x + 3, top + 6, f"{direction}{threshold:g}", 10,
                          "end" if near_right else "start"))
    for j, name in enumerate(counts):
        y = top + 4 + j * 14
        swatch = colors.get(name, "#999")
        body.append(f"<rect x='{left + plot_w + 16}' y='{y}' width='10' height='10' fill='{swatch}'/>")
        body.append(_text(left + plot_w + 30, y + 9, f"{name} ({int(counts[name].sum()):,})", 10))
    if dropped:
        body.append(_text(left + plot_w + 16, top + 13 + len(counts) * 14, f"not plotted: {dropped:,} (NaN/inf)", 10))
    return _svg(left + plot_w + 140, top + plot_h + 26, body, title)
