"""The report's inline SVG charts: well-formed SVG that shows what it was given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pipelines.svgplot import bar_chart, stacked_histogram

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def test_bar_chart_draws_one_bar_per_label_scaled_to_the_largest() -> None:
    for horizontal in (False, True):
        root = _parse(bar_chart(["a", "b", "c<&>"], [10, 5, 0], "Counts", horizontal=horizontal))
        rects = root.findall(f"{NS}rect")
        assert len(rects) == 3
        size = "width" if horizontal else "height"
        assert float(rects[0].get(size)) == 2 * float(rects[1].get(size)) and float(rects[2].get(size)) == 0
        texts = [t.text for t in root.iter(f"{NS}text")]
        assert "c<&>" in texts and "Counts" in texts


def test_stacked_histogram_counts_every_value_and_draws_the_threshold() -> None:
    groups = {"kept": [0.9, 0.95, 0.97, 0.99], "rejected": [0.1, 0.2, 0.95]}
    svg = stacked_histogram(groups, {"kept": "#2f7d32", "rejected": "#c62828"}, "Language score",
                            threshold=0.65, direction="min ", bins=10)
    root = _parse(svg)
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "kept (4)" in texts and "rejected (3)" in texts and "min 0.65" in texts
    dashed = [line for line in root.findall(f"{NS}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 1
    # bars: one per non-empty (group, bin); the legend adds one square per group
    bars = [r for r in root.findall(f"{NS}rect") if r.get("width") != "10"]
    assert len(bars) == 5  # 10 bins over [0.1, 0.99]: kept fills bins 8-9, rejected bins 0, 1 and 9


def test_stacked_histogram_of_one_repeated_value_still_draws() -> None:
    root = _parse(stacked_histogram({"kept": [3.0, 3.0, 3.0]}, {}, "constant"))
    assert [t.text for t in root.iter(f"{NS}text")].count("kept (3)") == 1


def test_stacked_histogram_leaves_out_nan_and_infinite_values_and_says_so() -> None:
    root = _parse(stacked_histogram({"kept": [1.0, float("nan"), 2.0], "rejected": [float("inf")]}, {}, "odd values"))
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "kept (2)" in texts and "rejected (0)" in texts and "not plotted: 2 (NaN/inf)" in texts
    root = _parse(stacked_histogram({"kept": [float("nan")]}, {}, "nothing finite"))
    assert "not plotted: 1 (NaN/inf)" in [t.text for t in root.iter(f"{NS}text")]
