"""The run report: one self-contained HTML file (inline SVG plots drawn by
:mod:`pipelines.svgplot`, no external assets).

Shows the reconciliation per source (inputs = kept + rejected + quarantined + duplicates),
the funnel per stage, language-score and quality-signal histograms with the thresholds
drawn, PII findings by type, the top rejection reasons, and a few examples per reason.

Two kinds of count, kept apart and labelled: *documents* (the table, the funnel, the
histograms' legends: each document once) and *rule failures* (the rejection-reasons chart: a
rejected document counts once per rule it fails, so those bars add up to more than the
rejected documents). Only thresholds of rules that can fire are drawn: a rule of a group that
is not enabled, a threshold set to None (or datatrove's 0 / -1 "off" values), or one outside
the signal's possible range (FineWeb-2's ``short_line_thr: 999`` on a ratio) is not drawn and
does not set the plot's axis.
"""

from __future__ import annotations

import html
from typing import Any

from pipelines.svgplot import bar_chart, stacked_histogram

FUNNEL = ("read", "decoded", "language", "quality", "unique")
COLORS = {"kept": "#2f7d32", "rejected": "#c62828", "quarantined": "#6a1b9a", "duplicates": "#ef6c00"}
MAX_SIGNAL_PLOTS = 12
#: Example texts are cut to this many characters, at a word boundary, with an ellipsis.
EXAMPLE_CHARS = 300
ELLIPSIS = "…"

#: signal name prefix -> the rule group whose thresholds apply to it.
_GROUP_OF_PREFIX = (("gopher_", "gopher_quality"), ("rep_", "gopher_repetition"), ("c4_", "c4"),
                    ("fineweb_", "fineweb"))
#: Thresholds datatrove's Gopher filters treat as off when 0 (or None).
_ZERO_IS_OFF = {"min_doc_words", "max_doc_words", "min_avg_word_length", "max_avg_word_length",
                "max_symbol_word_ratio", "max_bullet_lines_ratio", "max_ellipsis_lines_ratio",
                "max_non_alpha_words_ratio", "min_stop_words", "dup_line_frac", "dup_para_frac",
                "dup_line_char_frac", "dup_para_char_frac"}
#: Signals that are shares in [0, 1]: a "max" threshold >= 1 or a "min" threshold <= 0 never fires.
_UNIT_SIGNALS = {"gopher_bullet_lines_ratio", "gopher_ellipsis_lines_ratio", "gopher_alpha_words_ratio",
                 "rep_dup_para_frac", "rep_dup_para_char_frac", "rep_dup_line_frac", "rep_dup_line_char_frac",
                 "fineweb_line_punct_ratio", "fineweb_short_line_ratio", "fineweb_char_dup_ratio"}


def signal_group(signal: str) -> str | None:
    """The rule group a signal belongs to (None for the document basics)."""
    return next((group for prefix, group in _GROUP_OF_PREFIX if signal.startswith(prefix)), None)


def _enabled_groups(quality: dict[str, Any]) -> set[str]:
    from filters.quality import DEFAULT_ENABLED

    enabled = quality.get("enabled")
    return set(DEFAULT_ENABLED) if enabled is None else set(enabled)


def threshold_active(signal: str, field: str, value: Any, direction: str, enabled: set[str]) -> bool:
    """Whether the rule comparing ``signal`` with ``value`` (config field ``field``) can reject."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if signal_group(signal) not in enabled:
        return False
    if field in _ZERO_IS_OFF and value == 0:
        return False
    if field == "min_num_sentences" and value == -1:
        return False
    if signal in _UNIT_SIGNALS and ((direction == "max " and value >= 1) or (direction == "min " and value <= 0)):
        return False
    return True


def signal_thresholds(quality: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Signal name -> (threshold, "min "/"max ") of every rule that can reject, from the quality
    config (``filters.quality.SIGNAL_THRESHOLDS`` names the config field of each signal).
    Thresholds of disabled groups and disabled or unreachable values are left out."""
    from filters.quality import SIGNAL_THRESHOLDS

    enabled = _enabled_groups(quality)
    out = {}
    for signal, (field, direction) in SIGNAL_THRESHOLDS.items():
        value = quality.get(field)
        if threshold_active(signal, field, value, direction, enabled):
            out[signal] = (float(value), direction)
    return out


def signal_plots(quality: dict[str, Any], limit: int = MAX_SIGNAL_PLOTS) -> list[tuple[str, float | None, str]]:
    """(signal, threshold or None, direction) to plot: signals with an active rule first, then,
    while there is room, signals whose rule is off (drawn without a threshold line), those of
    enabled groups before those of groups that are off."""
    from filters.quality import SIGNAL_THRESHOLDS

    active = signal_thresholds(quality)
    enabled = _enabled_groups(quality)
    plots: list[tuple[str, float | None, str]] = [(s, t, d) for s, (t, d) in active.items()]
    off = [s for s in SIGNAL_THRESHOLDS if s not in active]
    plots += [(s, None, "") for s in sorted(off, key=lambda s: signal_group(s) not in enabled)]
    return plots[:limit]


def excerpt(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending in "…" when cut.

    The pipeline stores examples already cut, possibly mid-word, at ``pipelines.core.skeleton``'s
    ``EXAMPLE_CHARS`` (400, above this limit), so every stored example that was cut is longer
    than ``limit`` and is cut again here, between words. A first word longer than half the
    limit is cut inside the word (there is no boundary worth keeping)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace():  # the limit falls inside a word: drop that partial word
        boundary = max(head.rfind(c) for c in " \n\t\u00a0")
        head = head[:boundary] if boundary >= limit // 2 else head[:limit - 1]
    return head.rstrip(" \t\n\u00a0,;:-–—") + ELLIPSIS


def _hist(samples: list[dict], value, title: str, threshold: float | None = None,
          direction: str = "", *, xlabel: str | None = None, totals: dict[str, int] | None = None) -> str | None:
    groups: dict[str, list[float]] = {}
    for s in samples:
        v = value(s)
        if v is not None:
            groups.setdefault(s["outcome"], []).append(float(v))
    if not groups:
        return None
    order = list(COLORS)  # legend and stacking in outcome order: kept, rejected, ...
    groups = {o: groups[o] for o in sorted(groups, key=lambda o: (order.index(o) if o in order else len(order), o))}
    return stacked_histogram(groups, COLORS, title, threshold=threshold, direction=direction,
                             xlabel=xlabel, ylabel="documents", totals=totals)


def _reconciliation_table(stats: dict[str, Any]) -> str:
    rows = []
    for name, r in {**stats["sources"], "TOTAL": stats["totals"]}.items():
        ok = "✔" if r["reconciles"] else "✘ DOES NOT RECONCILE"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{r['inputs']:,}</td><td>{r['kept']:,}</td>"
                    f"<td>{r['rejected']:,}</td><td>{r['quarantined']:,}</td><td>{r['duplicates']:,}</td>"
                    f"<td>{ok}</td></tr>")
    return ("<table><tr><th>source</th><th>inputs</th><th>= kept</th><th>+ rejected</th>"
            "<th>+ quarantined</th><th>+ duplicates</th><th></th></tr>" + "".join(rows) + "</table>"
            "<p class=note>Counts are documents: each input record once, in exactly one outcome.</p>")


def _examples(stats: dict[str, Any]) -> str:
    parts = []
    for reason, examples in stats.get("examples", {}).items():
        items = []
        for e in examples:
            body = excerpt(e.get("text") or e.get("message") or "")
            thumb = e.get("thumb") or ""
            img = (f'<img class=thumb src="{html.escape(thumb)}" alt="published (blurred) image"> '
                   if thumb.startswith("data:image/") else "")
            items.append(f"<li>{img}<code>{html.escape(e['source'])} {html.escape(e['pointer'])}</code> "
                         f"<span class=ex>{html.escape(body)}</span></li>")
        parts.append(f"<h3>{html.escape(reason)}</h3><ul>{''.join(items)}</ul>")
    return "".join(parts)


def _models(modality, stats: dict[str, Any]) -> str:
    """The models (and weights) the run's config ran, as the modality describes them."""
    lines = modality.model_lines(stats.get("config", {}))
    if not lines:
        return ""
    return "<h2>Models that ran</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"


def _counts_note(stats: dict[str, Any]) -> str:
    t = stats["totals"]
    failures = sum(stats.get("rejected_by_reason", {}).values())
    return (f"{t['rejected']:,} rejected documents, {failures:,} rule failures: a document can fail "
            "several rules, and counts once per failing rule in the reasons chart.")


def text_report_plots(stats: dict[str, Any]) -> list[str]:
    """The text modality's plots: language score and quality-signal histograms with thresholds."""
    from filters.quality import SIGNAL_DOCS

    samples = stats.get("samples", [])
    cfg = stats.get("config", {})
    t = stats["totals"]
    totals = {o: int(t.get(o, 0)) for o in COLORS}
    plots = []
    min_score = cfg.get("language", {}).get("min_score")
    lang_plot = _hist(samples, lambda s: s.get("lang_score"), "Language score (sample)", min_score, "min ",
                      xlabel="language ID score of the detected language", totals=totals)
    if lang_plot:
        plots.append(lang_plot)
    for name, threshold, direction in signal_plots(cfg.get("quality", {})):
        title = name if threshold is not None else f"{name} (rule off)"
        svg = _hist(samples, lambda s, n=name: (s.get("signals") or {}).get(n), title, threshold, direction,
                    xlabel=SIGNAL_DOCS.get(name, name), totals=totals)
        if svg:
            plots.append(svg)
    return plots


def render_report(stats: dict[str, Any], modality_plots: list[str] | None = None) -> str:
    """The whole report as an HTML string: the core's sections (accounting, funnel, reasons,
    PII, quarantine, examples) and the plots of the run's modality (from its config when
    ``modality_plots`` is not given)."""
    from pipelines.core.modality import get_modality

    modality = get_modality(stats.get("config", {}).get("modality", "text"))
    if modality_plots is None:
        modality_plots = modality.report_plots(stats)
    funnel_stages = list(modality.funnel)
    t = stats["totals"]
    plots = []
    funnel = stats.get("funnel", {})
    plots.append(bar_chart(funnel_stages, [funnel.get(s, 0) for s in funnel_stages], "Records reaching each stage",
                           xlabel="pipeline stage", ylabel="documents"))
    all_reasons = stats.get("rejected_by_reason", {})
    reasons = sorted(all_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    if reasons:
        shown = "" if len(reasons) == len(all_reasons) else f" (top {len(reasons)} of {len(all_reasons)} rules)"
        plots.append(bar_chart([r for r, _ in reasons], [n for _, n in reasons], "Top rejection reasons" + shown,
                               COLORS["rejected"], horizontal=True,
                               xlabel="rule failures (rejected documents failing the rule)", ylabel="rule",
                               note=f"{t['rejected']:,} rejected documents, "
                                    f"{sum(all_reasons.values()):,} rule failures"))
    pii = dict(sorted(stats.get("pii_by_type", {}).items(), key=lambda kv: (-kv[1], kv[0])))
    if pii:
        plots.append(bar_chart(list(pii), list(pii.values()), "PII findings by type (redacted)", "#455a64",
                               xlabel="PII type", ylabel="findings"))
    plots.extend(modality_plots)
    title = f"Kho run {stats.get('run_id', '')}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}
.plots{{display:flex;flex-wrap:wrap;gap:12px}}.plots>div{{flex:0 0 auto}}.ex{{color:#333}}.note{{color:#555}}
li{{margin-bottom:.4em}}code{{background:#f3f3f3}}img.thumb{{height:72px;vertical-align:middle;margin-right:6px}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>dataset <b>{html.escape(str(stats.get('dataset', '')))}</b> version <b>{html.escape(str(stats.get('version', '')))}</b>,
code {html.escape(str(stats.get('code_version', '')))}, {stats.get('units', 0)} input files, {stats.get('shards', 0)} shards.</p>
<h2>Every input accounted for</h2>
<p>inputs {t['inputs']:,} = kept {t['kept']:,} + rejected {t['rejected']:,} + quarantined {t['quarantined']:,} + duplicates {t['duplicates']:,}</p>
{_reconciliation_table(stats)}
<h2>Plots</h2>
<p class=note>{html.escape(_counts_note(stats))} Histogram legends count documents: those plotted
(with a value, in the run's sample) of all documents with that outcome; rejected documents
dropped before quality scoring (language) have no quality signals. Dashed lines are the
thresholds of rules that can reject; rules that are off are not drawn.</p>
<div class="plots">{''.join(f'<div>{p}</div>' for p in plots)}</div>
{_models(modality, stats)}
<h2>Quarantined by error</h2><p>{html.escape(', '.join(f'{k}: {v}' for k, v in stats.get('quarantined_by_error', {}).items()) or 'none')}</p>
<h2>Examples per reason</h2>{_examples(stats)}
</body></html>"""
