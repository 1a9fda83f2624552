"""The report's inline SVG charts: well-formed SVG that shows what it was given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pipelines.svgplot import bar_chart, degenerate_window, stacked_histogram

NS = "{http://www.w3.org/2000/svg}"
LEFT, PLOT_W = 64, 400  # the histogram's plot area, as stacked_histogram lays it out


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{NS}text")]


def _by_class(root: ET.Element, cls: str) -> list[str]:
    return [t.text for t in root.iter(f"{NS}text") if t.get("class") == cls]


def _bars(root: ET.Element) -> list[ET.Element]:
    """Histogram bars (the legend's swatches are the 10x10 squares)."""
    return [r for r in root.findall(f"{NS}rect") if r.get("width") != "10"]


def _ticks(root: ET.Element) -> list[float]:
    """The x axis tick labels, left to right (the texts just under the axis)."""
    labels = [t for t in root.iter(f"{NS}text") if t.get("y") == "196.0"]
    return [float(t.text.replace(",", "")) for t in sorted(labels, key=lambda t: float(t.get("x")))]


def _dashed(root: ET.Element) -> list[ET.Element]:
    return [line for line in root.findall(f"{NS}line") if line.get("stroke-dasharray")]


def test_bar_chart_draws_one_bar_per_label_scaled_to_the_largest() -> None:
    for horizontal in (False, True):
        root = _parse(bar_chart(["a", "b", "c<&>"], [10, 5, 0], "Counts", horizontal=horizontal))
        rects = root.findall(f"{NS}rect")
        assert len(rects) == 3
        size = "width" if horizontal else "height"
        assert float(rects[0].get(size)) == 2 * float(rects[1].get(size)) and float(rects[2].get(size)) == 0
        texts = _texts(root)
        assert "c<&>" in texts and "Counts" in texts


@pytest.mark.parametrize("horizontal", [False, True])
def test_bar_chart_axes_have_titles_and_a_note(horizontal: bool) -> None:
    root = _parse(bar_chart(["a", "b"], [3, 1], "Reasons", horizontal=horizontal, xlabel="rule failures",
                            ylabel="rule", note="2 documents, 4 rule failures"))
    assert _by_class(root, "x-title") == ["rule failures"] and _by_class(root, "y-title") == ["rule"]
    (ytitle,) = [t for t in root.iter(f"{NS}text") if t.get("class") == "y-title"]
    assert ytitle.get("transform", "").startswith("rotate(-90")
    assert _by_class(root, "note") == ["2 documents, 4 rule failures"]
    height = float(root.get("height"))
    assert all(float(t.get("y")) < height for t in root.iter(f"{NS}text"))  # nothing drawn off the chart


def test_stacked_histogram_counts_every_value_and_draws_the_threshold() -> None:
    groups = {"kept": [0.9, 0.95, 0.97, 0.99], "rejected": [0.1, 0.2, 0.95]}
    svg = stacked_histogram(groups, {"kept": "#2f7d32", "rejected": "#c62828"}, "Language score",
                            threshold=0.65, direction="min ", bins=10)
    root = _parse(svg)
    texts = _texts(root)
    assert "kept: 4 docs" in texts and "rejected: 3 docs" in texts and "min 0.65" in texts
    assert len(_dashed(root)) == 1
    # bars: one per non-empty (group, bin); the legend adds one square per group
    assert len(_bars(root)) == 5  # 10 bins over [0.1, 0.99]: kept fills bins 8-9, rejected bins 0, 1 and 9


def test_stacked_histogram_axes_have_titles() -> None:
    root = _parse(stacked_histogram({"kept": [1.0, 2.0]}, {}, "gopher_stop_words",
                                    xlabel="distinct stop words present"))
    assert _by_class(root, "x-title") == ["distinct stop words present"]
    assert _by_class(root, "y-title") == ["documents"]
    root = _parse(stacked_histogram({"kept": [1.0, 2.0]}, {}, "chars", ylabel="records"))
    assert _by_class(root, "x-title") == ["chars"] and _by_class(root, "y-title") == ["records"]


def test_legend_gives_plotted_and_total_documents() -> None:
    root = _parse(stacked_histogram({"kept": [1.0, 2.0], "rejected": [1.5]}, {}, "s",
                                    totals={"kept": 2, "rejected": 13}))
    assert _by_class(root, "legend") == ["kept: 2 of 2 docs", "rejected: 1 of 13 docs"]


def test_one_repeated_value_is_one_bar_in_the_middle_of_a_window_around_it() -> None:
    root = _parse(stacked_histogram({"kept": [3.0, 3.0], "rejected": [3.0]}, {}, "constant"))
    bars = _bars(root)
    assert len(bars) == 2  # one bin, two groups stacked
    for bar in bars:
        centre = float(bar.get("x")) + float(bar.get("width")) / 2
        assert abs(centre - (LEFT + PLOT_W / 2)) < 0.5
    assert _ticks(root) == [2.5, 2.75, 3.0, 3.25, 3.5]
    assert "all 3 values = 3" in _texts(root) and "kept: 2 docs" in _texts(root)


def test_a_constant_zero_with_a_threshold_is_not_a_bar_on_the_axis_edge() -> None:
    """All values 0 (no document has a '#') and the max 0.1 threshold: the bar is centred on 0,
    not squeezed against the left edge of a 0-0.1 axis; the threshold line is inside."""
    root = _parse(stacked_histogram({"kept": [0.0] * 18}, {}, "gopher_hash_ratio", threshold=0.1,
                                    direction="max "))
    (bar,) = _bars(root)
    ticks = _ticks(root)
    assert ticks[0] == -ticks[-1] and ticks[2] == 0 and ticks[-1] >= 0.1
    x0 = LEFT + PLOT_W / 2
    assert abs(float(bar.get("x")) + float(bar.get("width")) / 2 - x0) < 0.5
    (line,) = _dashed(root)
    assert x0 < float(line.get("x1")) < LEFT + PLOT_W
    assert "all 18 values = 0" in _texts(root)


def test_degenerate_window_is_round_and_holds_the_threshold() -> None:
    assert degenerate_window(0.0) == (-0.5, 0.5)
    assert degenerate_window(3.0) == (2.5, 3.5)
    lo, hi = degenerate_window(0.0, 0.9)
    assert lo == -hi and hi >= 0.9
    lo, hi = degenerate_window(114.0)
    assert lo < 114 < hi and hi - 114 == 114 - lo


def test_without_a_threshold_the_axis_is_the_data_range() -> None:
    """A rule that is off is passed as threshold=None: nothing is drawn and the axis stays
    on the data (FineWeb-2's short_line_thr 999 used to stretch a ratio's axis to 0-999)."""
    root = _parse(stacked_histogram({"kept": [0.0, 0.25, 0.5]}, {}, "fineweb_short_line_ratio"))
    assert _dashed(root) == [] and _ticks(root)[0] == 0 and _ticks(root)[-1] == 0.5
    root = _parse(stacked_histogram({"kept": [0.0, 0.25, 0.5]}, {}, "s", threshold=999, direction="max "))
    assert _ticks(root)[-1] == 999  # a threshold given is a threshold drawn: the caller leaves out off rules


def test_stacked_histogram_leaves_out_nan_and_infinite_values_and_says_so() -> None:
    root = _parse(stacked_histogram({"kept": [1.0, float("nan"), 2.0], "rejected": [float("inf")]}, {}, "odd values"))
    texts = _texts(root)
    assert "kept: 2 docs" in texts and "rejected: 0 docs" in texts and "not plotted: 2 (NaN/inf)" in texts
    root = _parse(stacked_histogram({"kept": [float("nan")]}, {}, "nothing finite"))
    assert "not plotted: 1 (NaN/inf)" in _texts(root)
