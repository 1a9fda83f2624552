"""Small inline-SVG charts for the run report: bar charts and stacked histograms.

The report is written at the end of every run, on one worker, so its plots must cost
milliseconds, not the seconds a plotting library spends per figure; and they must stay
self-contained in the HTML file. These functions write SVG elements directly: text stays
text (searchable, small), colours and sizes are fixed, nothing is fetched.

Every chart can carry an x and a y axis title (``xlabel``, ``ylabel``). Histograms count
documents: each legend entry says how many documents of that group are plotted and, given
``totals``, of how many the group has in all (the rest had no value or were not sampled).
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


def _xtitle(x: float, y: float, s: str) -> str:
    """The x axis title, centred under the axis."""
    return _text(x, y, s, 11, "middle", "class='x-title' fill='#222'")


def _ytitle(x: float, y: float, s: str) -> str:
    """The y axis title, rotated to read bottom-up along the axis, centred on (x, y)."""
    return _text(x, y, s, 11, "middle", f"class='y-title' fill='#222' transform='rotate(-90 {x:.1f} {y:.1f})'")


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img'><title>{html.escape(title)}</title>"
            + _text(width / 2, 16, title, 13, "middle", "font-weight='bold'") + "".join(body) + "</svg>")


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, color: str = "#1565c0",
              horizontal: bool = False, *, xlabel: str = "", ylabel: str = "", note: str = "") -> str:
    """Bars with their value written at the end; horizontal for long labels (reasons, types).

    ``xlabel``/``ylabel`` title the horizontal and vertical axis (for a horizontal chart the
    x axis is the value axis, the y axis the labels); ``note`` is a line written under the chart.
    """
    vmax = max([float(v) for v in values] + [1.0])
    pad_y = 22 if ylabel else 0
    if horizontal:
        label_w, row_h, plot_w = 260 + pad_y, 20, 340
        plot_h = row_h * len(labels)
        bottom = 28 + plot_h + 6
        body = [f"<line x1='{label_w}' y1='26' x2='{label_w}' y2='{bottom}' stroke='{AXIS}'/>"]
        for i, (label, v) in enumerate(zip(labels, values)):
            y = 28 + i * row_h
            w = plot_w * float(v) / vmax
            body.append(_text(label_w - 6, y + 13, str(label), 11, "end"))
            body.append(f"<rect x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{row_h - 5}' fill='{color}'/>")
            body.append(_text(label_w + w + 4, y + 13, _fmt(float(v)), 10))
        height = bottom + 4
        if xlabel:
            body.append(_xtitle(label_w + plot_w / 2, height + 10, xlabel))
            height += 16
        if ylabel:
            body.append(_ytitle(12, 28 + plot_h / 2, ylabel))
        if note:
            body.append(_text(8, height + 10, note, 10, "start", "class='note'"))
            height += 16
        return _svg(label_w + plot_w + 70, height + 4, body, title)
    n = max(len(labels), 1)
    slot, plot_h, top = min(90, 560 // n), 170, 30
    left = 50 + pad_y
    width = left + slot * n + 20
    body = [f"<line x1='{left - 5}' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' stroke='{AXIS}'/>"]
    for i, (label, v) in enumerate(zip(labels, values)):
        h = plot_h * float(v) / vmax
        x = left + i * slot
        body.append(f"<rect x='{x + 6}' y='{top + plot_h - h:.1f}' width='{slot - 12}' height='{h:.1f}' "
                    f"fill='{color}'/>")
        body.append(_text(x + slot / 2, top + plot_h - h - 4, _fmt(float(v)), 10, "middle"))
        body.append(_text(x + slot / 2, top + plot_h + 15, str(label), 10, "middle"))
    height = top + plot_h + 22
    if xlabel:
        body.append(_xtitle(left + slot * n / 2, height + 10, xlabel))
        height += 16
    if ylabel:
        body.append(_ytitle(14, top + plot_h / 2, ylabel))
    if note:
        body.append(_text(8, height + 10, note, 10, "start", "class='note'"))
        height += 16
    return _svg(width, height + 6, body, title)


_NICE = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def _nice_up(x: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >= ``x``."""
    scale = 10.0 ** math.floor(math.log10(x))
    return next(m * scale for m in _NICE if m * scale >= x * (1 - 1e-9))


def degenerate_window(value: float, threshold: float | None = None) -> tuple[float, float]:
    """The x range for a histogram whose values all equal ``value``: symmetric around it, so its
    one bar sits in the middle under the middle tick; half-width 10% of the value (at least 0.5
    for whole numbers such as counts, 0.05 for fractions), widened to show ``threshold``, and
    rounded up to a round number so the ticks are round too."""
    half = max(abs(value) * 0.1, 0.5 if value == int(value) else 0.05)
    if threshold is not None and math.isfinite(threshold):
        half = max(half, abs(threshold - value) * 1.25)
    half = _nice_up(half)
    return value - half, value + half


def stacked_histogram(groups: dict[str, list[float]], colors: dict[str, str], title: str, *,
                      threshold: float | None = None, direction: str = "", bins: int = 40,
                      xlabel: str | None = None, ylabel: str = "documents",
                      totals: dict[str, int] | None = None) -> str:
    """Histogram of values stacked by group (outcome), with an optional dashed threshold line.

    ``threshold`` is drawn and widens the x range to include it; pass None for a rule that is
    off (a disabled threshold must neither be drawn nor set the axis). When every value is the
    same, the x range is :func:`degenerate_window` around it and the legend says so.
    ``xlabel`` (default: the title) and ``ylabel`` title the axes. The legend gives, per group,
    the documents plotted and, with ``totals``, the group's documents in all.

    NaN and infinite values cannot be placed on an axis: they are left out and counted in the
    legend as "not plotted"."""
    arrays = {name: np.asarray(v, dtype=float) for name, v in groups.items()}
    dropped = sum(int((~np.isfinite(a)).sum()) for a in arrays.values())
    arrays = {name: a[np.isfinite(a)] for name, a in arrays.items()}
    every = np.concatenate(list(arrays.values()) + [np.zeros(0)])
    has_threshold = threshold is not None and math.isfinite(threshold)
    constant: float | None = None
    if every.size == 0:
        lo, hi = degenerate_window(0.0, threshold if has_threshold else None)  # nothing finite: an empty axis
    elif float(every.min()) == float(every.max()):
        constant = float(every[0])
        lo, hi = degenerate_window(constant, threshold if has_threshold else None)
        bins += 1 - bins % 2  # an odd number of bins: the value is the middle of the middle bin
    else:
        lo, hi = float(every.min()), float(every.max())
        if has_threshold:
            lo, hi = min(lo, threshold), max(hi, threshold)
    edges = np.linspace(lo, hi, bins + 1)
    counts = {name: np.histogram(a, bins=edges)[0] for name, a in arrays.items()}
    stacked = sum(counts.values()) if counts else np.zeros(bins, dtype=int)
    ymax = max(int(np.max(stacked)), 1)
    left, top, plot_w, plot_h = 64, 30, 400, 150
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
    body.append(_xtitle(left + plot_w / 2, top + plot_h + 32, title if xlabel is None else xlabel))
    if ylabel:
        body.append(_ytitle(14, top + plot_h / 2, ylabel))
    if has_threshold:
        x = left + (threshold - lo) * sx
        body.append(f"<line x1='{x:.1f}' y1='{top - 4}' x2='{x:.1f}' y2='{top + plot_h}' stroke='black' "
                    f"stroke-dasharray='5,3' stroke-width='1.2'/>")
        near_right = x > left + 0.8 * plot_w  # write the label on the left of the line there
        body.append(_text(x - 3 if near_right else x + 3, top + 6, f"{direction}{threshold:g}", 10,
                          "end" if near_right else "start"))
    legend_x = left + plot_w + 16
    lines = 0
    for name in counts:
        y = top + 4 + lines * 14
        swatch = colors.get(name, "#999")
        plotted = int(counts[name].sum())
        total = (totals or {}).get(name)
        label = f"{name}: {plotted:,} of {total:,} docs" if total is not None else f"{name}: {plotted:,} docs"
        body.append(f"<rect x='{legend_x}' y='{y}' width='10' height='10' fill='{swatch}'/>")
        body.append(_text(legend_x + 14, y + 9, label, 10, "start", "class='legend'"))
        lines += 1
    if constant is not None:
        body.append(_text(legend_x, top + 13 + lines * 14, f"all {every.size:,} values = {_fmt(round(constant, 6))}",
                          10, "start", "class='constant'"))
        lines += 1
    if dropped:
        body.append(_text(legend_x, top + 13 + lines * 14, f"not plotted: {dropped:,} (NaN/inf)", 10))
    return _svg(left + plot_w + 200, top + plot_h + 42, body, title)
