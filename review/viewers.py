"""Viewers: how one review item is shown, one per modality, through a small registry.

A viewer is a callable ``(item: ViewItem, ctx: ViewContext) -> Markup`` that renders the
item's HTML fragment with the app's Jinja2 environment (autoescaped: every value from a run
is text, never markup). ``register_viewer("audio", AudioViewer())`` is all a new modality
needs; an unregistered modality falls back to a plain table of its fields.

Two layouts sit above the modality viewers and are chosen by the item, not the modality:
a duplicate pair renders the modality's viewer twice, side by side (the dropped record and
the record it duplicates), and a quarantined input shows its error; only leads get a preview
of its raw bytes, and only as escaped text.

What annotators never see: raw content. The app builds :class:`ViewItem` from what the run
published (PII-scrubbed text and captions, blurred images) and drops any ``raw`` field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from jinja2 import Environment
from markupsafe import Markup

log = logging.getLogger(__name__)

#: PII placeholders the scrubber writes (filters.pii.redact: ``<TYPE>``).
PII_PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z_]{1,31})>")
#: Fields that may hold raw, unredacted bytes: never passed to a viewer's page for annotators.
RAW_FIELDS = frozenset({"raw", "raw_text", "raw_bytes", "raw_truncated"})

#: Which stored signals a failed rule is about, so a viewer can highlight them. Rules are
#: "<group>:<reason>" (text: filters.quality.failed_rules and the language checks; image:
#: pipelines.image.annotate). A rule missing here highlights signals whose name it contains.
RULE_SIGNALS: dict[str, tuple[str, ...]] = {
    "gopher_quality:gopher_short_doc": ("gopher_non_symbol_words",),
    "gopher_quality:gopher_long_doc": ("gopher_non_symbol_words",),
    "gopher_quality:gopher_below_avg_threshold": ("gopher_avg_word_length",),
    "gopher_quality:gopher_above_avg_threshold": ("gopher_avg_word_length",),
    "gopher_quality:gopher_too_many_hashes": ("gopher_hash_ratio",),
    "gopher_quality:gopher_too_many_ellipsis": ("gopher_ellipsis_ratio",),
    "gopher_quality:gopher_too_many_bullets": ("gopher_bullet_lines_ratio",),
    "gopher_quality:gopher_too_many_end_ellipsis": ("gopher_ellipsis_lines_ratio",),
    "gopher_quality:gopher_below_alpha_threshold": ("gopher_alpha_words_ratio",),
    "gopher_quality:gopher_enough_stop_words": ("gopher_stop_words",),
    "gopher_repetition:dup_para_frac": ("rep_dup_para_frac",),
    "gopher_repetition:dup_para_char_frac": ("rep_dup_para_char_frac",),
    "gopher_repetition:dup_line_frac": ("rep_dup_line_frac",),
    "gopher_repetition:dup_line_char_frac": ("rep_dup_line_char_frac",),
    "c4:lorem_ipsum": ("c4_lorem_ipsum_lines",),
    "c4:curly_bracket": ("c4_curly_bracket_lines",),
    "c4:too_few_sentences": ("c4_sentences",),
    "fineweb:line_punct_ratio": ("fineweb_line_punct_ratio",),
    "fineweb:short_line_ratio": ("fineweb_short_line_ratio",),
    "fineweb:char_dup_ratio": ("fineweb_char_dup_ratio",),
    "fineweb:list_ratio": ("fineweb_list_ratio",),
    "image:blurry": ("blur",),
    "image:near_uniform": ("entropy",),
    "image:nsfw": ("nsfw",),
    "image:text_overlay": ("text_area",),
    "image:low_quality": ("brisque",),
    "clip:low_similarity": ("clip_similarity",),
}
_NGRAM_RULE_RE = re.compile(r"^gopher_repetition:(?:top_(\d+)_gram|duplicated_(\d+)_n_grams)$")


@dataclass(frozen=True)
class ViewItem:
    """What a viewer may show of one item: published content only, media as app URLs.

    ``media`` maps a media name of the item (``"image"``, ``"other_image"``) to the URL of
    the app's media route for it; viewers never see store keys.
    """

    item_id: int
    queue: str
    modality: str
    decision: str
    record_id: str
    reasons: list[str]
    fields: dict[str, Any]
    media: dict[str, str] = field(default_factory=dict)
    other_record_id: str | None = None


@dataclass(frozen=True)
class ViewContext:
    """What a viewer needs besides the item: the templates, the viewer's role, and for a
    lead on a quarantined input the raw bytes to preview (None for everyone else)."""

    env: Environment
    role: str
    raw_preview: bytes | None = None
    raw_truncated: bool = False


class Viewer(Protocol):
    """Renders one item's HTML fragment."""

    def __call__(self, item: ViewItem, ctx: ViewContext) -> Markup: ...


_VIEWERS: dict[str, Viewer] = {}


def register_viewer(modality: str, viewer: Viewer) -> None:
    """Make ``viewer`` the one that shows items of ``modality`` (replacing any earlier one)."""
    _VIEWERS[modality] = viewer


def viewer_for(modality: str) -> Viewer:
    """The viewer registered for ``modality``, else the generic fields table."""
    return _VIEWERS.get(modality, _FALLBACK)


def registered_modalities() -> list[str]:
    """Modalities that have their own viewer, sorted."""
    return sorted(_VIEWERS)


def render_item(item: ViewItem, ctx: ViewContext) -> Markup:
    """The HTML fragment of ``item``: quarantine, duplicate pair or the modality's viewer."""
    if item.decision == "quarantined":
        return _template("viewers/quarantine.html", ctx, item=item)
    if item.decision == "duplicate" or item.other_record_id:
        return render_pair(item, ctx)
    return viewer_for(item.modality)(item, ctx)


def render_pair(item: ViewItem, ctx: ViewContext) -> Markup:
    """A duplicate pair side by side: the dropped record, and the record it duplicates
    (whose fields are ``fields["other"]`` and whose media are named ``other_<name>``)."""
    viewer = viewer_for(item.modality)
    dropped = viewer(_one_side(item, other=False), ctx)
    other_fields = item.fields.get("other")
    kept = viewer(_one_side(item, other=True), ctx) if isinstance(other_fields, Mapping) else None
    return _template("viewers/pair.html", ctx, item=item, dropped=dropped, kept=kept)


def _one_side(item: ViewItem, other: bool) -> ViewItem:
    """One record of a pair as an item of its own (its own fields and media names)."""
    if other:
        fields = dict(item.fields.get("other") or {})
        media = {k.removeprefix("other_"): v for k, v in item.media.items() if k.startswith("other_")}
        record_id = item.other_record_id or str(fields.get("id", ""))
    else:
        fields = {k: v for k, v in item.fields.items() if k != "other"}
        media = {k: v for k, v in item.media.items() if not k.startswith("other_")}
        record_id = item.record_id
    return replace(item, fields=fields, media=media, record_id=record_id, other_record_id=None)


def pii_segments(text: str | None) -> list[tuple[str, str | None]]:
    """Split published text into (piece, placeholder type or None), so a template can mark
    the placeholders the PII scrubber put in (``<PHONE>``) without writing any markup."""
    if not text:
        return []
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in PII_PLACEHOLDER_RE.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], None))
        out.append((m.group(0), m.group(1)))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def failed_signals(reasons: list[str], signals: Mapping[str, Any] | None) -> set[str]:
    """Names of the signals that the failed rules ``reasons`` are about."""
    names = set(signals or ())
    out: set[str] = set()
    for reason in reasons:
        if reason in RULE_SIGNALS:
            out.update(RULE_SIGNALS[reason])
            continue
        m = _NGRAM_RULE_RE.match(reason)
        if m:
            n = m.group(1) or m.group(2)
            out.add(f"rep_top_{n}_gram_char_frac" if m.group(1) else f"rep_dup_{n}_gram_char_frac")
            continue
        rule = reason.split(":", 1)[-1]
        out.update(n for n in names if n in rule or rule in n)
    return out & names if names else out


def signal_rows(reasons: list[str], signals: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The signals as rows (name, shown value, failed), failed ones first, then by name."""
    failed = failed_signals(reasons, signals)
    rows = [{"name": n, "value": _show(v), "failed": n in failed} for n, v in (signals or {}).items()]
    return sorted(rows, key=lambda r: (not r["failed"], r["name"]))


def nonzero_counts(counts: Mapping[str, Any] | None) -> dict[str, Any]:
    """Only the PII types (or any counts) that occurred."""
    return {k: v for k, v in (counts or {}).items() if v}


def box_positions(boxes: Any, width: Any, height: Any) -> list[dict[str, str]]:
    """Positions in percent of the image (left, top, width, height) of boxes given as
    [x0, y0, x1, y1] or {x, y, w, h} in pixels of a ``width`` x ``height`` image; malformed
    boxes are skipped. Templates put them in data- attributes (the page's CSP forbids inline
    styles) and review.js places the boxes."""
    try:
        w, h = float(width), float(height)
    except (TypeError, ValueError):
        return []
    if w <= 0 or h <= 0 or not isinstance(boxes, list):
        return []
    out = []
    for box in boxes:
        xywh = _box_xywh(box)
        if xywh is None:
            continue
        x, y, bw, bh = xywh
        out.append({"left": f"{100 * x / w:.2f}", "top": f"{100 * y / h:.2f}",
                    "width": f"{100 * bw / w:.2f}", "height": f"{100 * bh / h:.2f}"})
    return out


def _box_xywh(box: Any) -> tuple[float, float, float, float] | None:
    try:
        if isinstance(box, Mapping):
            return (float(box["x"]), float(box["y"]), float(box["w"]), float(box["h"]))
        if isinstance(box, (list, tuple)) and len(box) >= 4:
            x0, y0, x1, y1 = (float(v) for v in box[:4])
            return (x0, y0, x1 - x0, y1 - y0)
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _show(value: Any) -> str:
    """A signal value as a short string (floats to 4 significant digits)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _template(name: str, ctx: ViewContext, **values: Any) -> Markup:
    helpers = {"pii_segments": pii_segments, "signal_rows": signal_rows,
               "nonzero_counts": nonzero_counts, "box_positions": box_positions, "ctx": ctx}
    return Markup(ctx.env.get_template(name).render(**helpers, **values))


@dataclass(frozen=True)
class TemplateViewer:
    """A viewer that is one template, given ``item`` and the helpers above."""

    template: str

    def __call__(self, item: ViewItem, ctx: ViewContext) -> Markup:
        return _template(self.template, ctx, item=item)


#: The fallback for a modality without a viewer: its fields as an escaped table.
_FALLBACK = TemplateViewer("viewers/fields.html")

register_viewer("text", TemplateViewer("viewers/text.html"))
register_viewer("image", TemplateViewer("viewers/image.html"))

