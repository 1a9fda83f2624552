"""The image modality's report plots: size, aspect, blur, NSFW and caption-image similarity
histograms of the run's sample, each with its rule's threshold (thumbnails per reason are
drawn by the core's examples section from the published, blurred images)."""

from __future__ import annotations

from typing import Any

from pipelines.report import COLORS, _hist

#: (sample field, title, rules key of the threshold, "min "/"max ", x label)
PLOTS = (
    ("short_side", "Shorter side (sample)", "min_side", "min ", "pixels, decoded and upright"),
    ("aspect", "Aspect ratio (sample)", None, "", "width / height"),
    ("bytes", "Encoded size (sample)", None, "", "bytes of the input image"),
    ("blur", "Sharpness (sample)", "min_blur", "min ", "variance of the Laplacian (low = blurry)"),
    ("entropy", "Colour entropy (sample)", "min_entropy", "min ", "bits (low = near-uniform)"),
    ("nsfw", "NSFW score (sample)", "max_nsfw", "max ", "open_nsfw probability"),
    ("clip_similarity", "Caption-image similarity (sample)", "min_clip_similarity", "min ",
     "cosine of the CLIP embeddings"),
)


def image_report_plots(stats: dict[str, Any]) -> list[str]:
    """SVG histograms of the image signals, with thresholds from the run's config."""
    samples = stats.get("samples", [])
    rules = stats.get("config", {}).get("rules", {})
    t = stats["totals"]
    totals = {o: int(t.get(o, 0)) for o in COLORS}
    plots = []
    for field, title, rule, direction, xlabel in PLOTS:
        threshold = rules.get(rule) if rule else None
        svg = _hist(samples, lambda s, f=field: s.get(f), title, threshold, direction if threshold is not None else "",
                    xlabel=xlabel, totals=totals)
        if svg:
            plots.append(svg)
    return plots
