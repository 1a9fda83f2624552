"""The run report: one self-contained HTML file (inline SVG plots drawn by
:mod:`pipelines.svgplot`, no external assets).

Shows the reconciliation per source (inputs = kept + rejected + quarantined + duplicates),
the funnel per stage, language-score and quality-signal histograms with the thresholds
drawn, PII findings by type, the top rejection reasons, and a few examples per reason.
"""

from __future__ import annotations

import html
from typing import Any

from pipelines.svgplot import bar_chart, stacked_histogram

FUNNEL = ("read", "decoded", "language", "quality", "unique")
COLORS = {"kept": "#2f7d32", "rejected": "#c62828", "quarantined": "#6a1b9a", "duplicates": "#ef6c00"}
MAX_SIGNAL_PLOTS = 12


def _hist(samples: list[dict], value, title: str, threshold: float | None = None,
          direction: str = "") -> str | None:
    groups: dict[str, list[float]] = {}
    for s in samples:
        v = value(s)
        if v is not None:
            groups.setdefault(s["outcome"], []).append(float(v))
    if not groups:
        return None
    return stacked_histogram(groups, COLORS, title, threshold=threshold, direction=direction)


def signal_thresholds(quality: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Signal name -> (threshold, "min "/"max ") for plotting, from the quality config
    (``filters.quality.SIGNAL_THRESHOLDS`` names the config field of each signal)."""
    from filters.quality import SIGNAL_THRESHOLDS

    out = {}
    for signal, (field, direction) in SIGNAL_THRESHOLDS.items():
        value = quality.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[signal] = (float(value), direction)
    return out


def _reconciliation_table(stats: dict[str, Any]) -> str:
    rows = []
    for name, r in {**stats["sources"], "TOTAL": stats["totals"]}.items():
        ok = "✔" if r["reconciles"] else "✘ DOES NOT RECONCILE"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{r['inputs']:,}</td><td>{r['kept']:,}</td>"
                    f"<td>{r['rejected']:,}</td><td>{r['quarantined']:,}</td><td>{r['duplicates']:,}</td>"
                    f"<td>{ok}</td></tr>")
    return ("<table><tr><th>source</th><th>inputs</th><th>= kept</th><th>+ rejected</th>"
            "<th>+ quarantined</th><th>+ duplicates</th><th></th></tr>" + "".join(rows) + "</table>")


def _examples(stats: dict[str, Any]) -> str:
    parts = []
    for reason, examples in stats.get("examples", {}).items():
        items = []
        for e in examples:
            body = e.get("text") or e.get("message") or ""
            items.append(f"<li><code>{html.escape(e['source'])} {html.escape(e['pointer'])}</code> "
                         f"<span class=ex>{html.escape(body)}</span></li>")
        parts.append(f"<h3>{html.escape(reason)}</h3><ul>{''.join(items)}</ul>")
    return "".join(parts)


def render_report(stats: dict[str, Any]) -> str:
    """The whole report as an HTML string."""
    samples = stats.get("samples", [])
    cfg = stats.get("config", {})
    plots = []
    funnel = stats.get("funnel", {})
    plots.append(bar_chart(list(FUNNEL), [funnel.get(s, 0) for s in FUNNEL], "Records reaching each stage"))
    reasons = sorted(stats.get("rejected_by_reason", {}).items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    if reasons:
        plots.append(bar_chart([r for r, _ in reasons], [n for _, n in reasons], "Top rejection reasons",
                          COLORS["rejected"], horizontal=True))
    pii = dict(sorted(stats.get("pii_by_type", {}).items(), key=lambda kv: (-kv[1], kv[0])))
    if pii:
        plots.append(bar_chart(list(pii), list(pii.values()), "PII findings by type (redacted)", "#455a64"))
    min_score = cfg.get("language", {}).get("min_score")
    lang_plot = _hist(samples, lambda s: s.get("lang_score"), "Language score (sample)", min_score, "min ")
    if lang_plot:
        plots.append(lang_plot)
    thresholds = signal_thresholds(cfg.get("quality", {}))
    names = [n for n in thresholds][:MAX_SIGNAL_PLOTS]
    for name in names:
        t, direction = thresholds[name]
        svg = _hist(samples, lambda s, n=name: (s.get("signals") or {}).get(n), name, t, direction)
        if svg:
            plots.append(svg)
    t = stats["totals"]
    title = f"Kho run {stats.get('run_id', '')}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}
.plots{{display:flex;flex-wrap:wrap;gap:12px}}.plots>div{{flex:0 0 auto}}.ex{{color:#333}}
li{{margin-bottom:.4em}}code{{background:#f3f3f3}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>dataset <b>{html.escape(str(stats.get('dataset', '')))}</b> version <b>{html.escape(str(stats.get('version', '')))}</b>,
code {html.escape(str(stats.get('code_version', '')))}, {stats.get('units', 0)} input files, {stats.get('shards', 0)} shards.</p>
<h2>Every input accounted for</h2>
<p>inputs {t['inputs']:,} = kept {t['kept']:,} + rejected {t['rejected']:,} + quarantined {t['quarantined']:,} + duplicates {t['duplicates']:,}</p>
{_reconciliation_table(stats)}
<h2>Plots</h2><div class="plots">{''.join(f'<div>{p}</div>' for p in plots)}</div>
<h2>Quarantined by error</h2><p>{html.escape(', '.join(f'{k}: {v}' for k, v in stats.get('quarantined_by_error', {}).items()) or 'none')}</p>
<h2>Examples per reason</h2>{_examples(stats)}
</body></html>"""
