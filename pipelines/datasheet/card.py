"""The datasheet's forms and where they are kept: ``datasheet.json``, ``README.md`` (a Hugging
Face dataset card: YAML metadata, then Markdown sections) and ``datasheet.html`` (tables and
SVG bar charts, every value escaped), under ``storage.layout.datasheet_prefix``."""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any

import yaml

from pipelines import svgplot
from pipelines.datasheet.bounds import DatasheetBounds
from pipelines.datasheet import state
from pipelines.datasheet.build import build_with_context
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import datasheet_prefix
from storage.shards import json_bytes
from storage.versions import VersionRef, VersionStore

log = logging.getLogger(__name__)

JSON_NAME, README_NAME, HTML_NAME = "datasheet.json", "README.md", "datasheet.html"
#: Hugging Face's size buckets (upper bounds exclusive), as its dataset cards name them.
_SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                 (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
                 (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"), (1_000_000_000_000, "100B<n<1T"))
TASKS = {"text": ["text-generation"], "image": ["image-to-text", "text-to-image"]}


class CardError(RuntimeError):
    """A datasheet could not be built or stored; the message says what to do."""


def size_category(rows: int) -> str:
    """Hugging Face's size_categories bucket of a row count."""
    for limit, name in _SIZE_BUCKETS:
        if rows < limit:
            return name
    return "n>1T"


#: Licence names that are not SPDX ids, as the Hub's licence field knows them.
_LICENSE_ALIASES = {"public-domain": "other", "publicdomain": "other", "pd": "other", "unknown": "other",
                    "none": "other", "proprietary": "other", "cc0": "cc0-1.0"}
_SPDX_LIKE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def hf_license(value: str | None) -> str:
    """A licence as a Hugging Face licence id: the SPDX id lower-cased (CC-BY-4.0 ->
    cc-by-4.0); "other" when unknown, empty or not an SPDX-like id ("public domain")."""
    key = (value or "").strip().lower()
    key = _LICENSE_ALIASES.get(key, key)
    return key if key and _SPDX_LIKE.match(key) else "other"


def card_metadata(sheet: dict[str, Any]) -> dict[str, Any]:
    """The YAML header of the card (huggingface_hub's DatasetCardData fields)."""
    comp = sheet["composition"]
    licenses = sorted({hf_license(d["value"]) for part in comp.values() if isinstance(part, dict)
                       for d in part.get("by_license", [])} or {"other"})
    langs = {"vi"}
    for part in comp.values():
        for key in ("by_language", "by_caption_language"):
            langs.update(d["value"] for d in part.get(key, []) if d["value"] and d["value"] != "other")
    tasks = sorted({t for mod in sheet["modalities"] for t in TASKS.get(mod, [])})
    return {
        "license": licenses[0] if len(licenses) == 1 else licenses,
        "language": ["vi"] + sorted(langs - {"vi"}),
        "size_categories": [size_category(sheet["rows"])],
        "task_categories": tasks or ["other"],
        "pretty_name": f"{sheet['dataset']} {sheet['version']}",
        "tags": ["kho", *sheet["modalities"]],
    }


def _md_table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(cell(c) for c in r) + " |" for r in rows), ""]


def _share_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[d["value"] if d["value"] is not None else "(none)", f"{d['count']:,}", f"{d['share']:.1%}"]
            for d in items]


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return ", ".join(f"{d['value']} {d['share']:.0%}" for d in v[:5])
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt_value(x)}" for k, x in v.items())
    return str(v)


def render_readme(sheet: dict[str, Any]) -> str:
    """The datasheet as a Hugging Face dataset card (README.md)."""
    meta = yaml.safe_dump(card_metadata(sheet), allow_unicode=True, sort_keys=False)
    name = f"{sheet['dataset']}@{sheet['version']}"
    out = ["---", meta.rstrip(), "---", "", f"# Datasheet of {name}", "",
           f"{sheet['rows']:,} rows, {sheet['stored_bytes']:,} stored bytes; modalities: "
           f"{', '.join(sheet['modalities']) or 'none'}. Built by Kho from the stored columns and the "
           "version's lineage; the full figures are in `datasheet.json` beside this card.", ""]
    flags = sheet.get("flags") or []
    out += [f"**Flagged skew indicators:** {', '.join(flags)}." if flags else "No skew indicator is flagged.", ""]
    out += ["## Composition", ""]
    for mod, c in sheet["composition"].items():
        total = c.get("words")
        out += [f"### {mod}", "", f"Rows: {c['rows']:,}; stored bytes: {c['stored_bytes']:,}"
                + (f"; words: {total:,}" if total is not None else "")
                + (f"; images: {c['images']:,}" if "images" in c else "") + ".", ""]
        for key, title in (("by_source", "Source"), ("by_license", "License"), ("by_language", "Language"),
                           ("by_lang_variant", "Language variant"), ("by_caption_language", "Caption language"),
                           ("by_domain", "Domain"), ("by_tld", "Top-level domain"),
                           ("by_crawl_month", "Crawl month")):
            if key in c:
                out += [f"**{title}**", "", *_md_table([title.lower(), "rows", "share"], _share_rows(c[key][:20]))]
        if "domain_rule" in c:
            out += [f"Domains: {c['domain_rule']}.", ""]
    p = sheet["provenance"]
    out += ["## Provenance", "", *_md_table(["source", "URIs", "license", "inputs", "kept", "version"],
                                            [[s["name"], ", ".join(s["uris"]) or "-", s["license"] or "unknown",
                                              s["inputs"], s["kept"], s["version"]] for s in p["sources"]])]
    out += _md_table(["version", "parent", "run", "code", "config hash", "created"],
                     [[r["version"], r["parent"] or "-", r["run_id"] or "-", r["code_version"],
                       (r["config_hash"] or "-")[:16], r["created_at"]] for r in p["runs"]])
    out += [f"Merkle root: `{p['merkle_root']}`. Verify with `{p['verify']['command']}` ({p['verify']['what']}).", ""]
    if not p["lineage_complete"]:
        out += [f"Lineage incomplete: {p['lineage_problem']}.", ""]
    f = sheet["funnel"]
    t = f["totals"]
    out += ["## Processing funnel", "", "Summed over the runs of this version and its parents.", "",
            *_md_table(["inputs", "kept", "rejected", "quarantined", "duplicates (exact / near)"],
                       [[t["inputs"], t["kept"], t["rejected"], t["quarantined"],
                         f"{t['duplicates']} ({f['duplicates_by_kind']['exact']} / {f['duplicates_by_kind']['near']})"]])]
    if f["rejected_by_reason"]:
        out += _md_table(["rejection reason", "records"], [[k, v] for k, v in f["rejected_by_reason"].items()])
    if f["quarantined_by_error"]:
        out += _md_table(["quarantine error", "records"], [[k, v] for k, v in f["quarantined_by_error"].items()])
    out += ["## Privacy", ""]
    for mod, pr in sheet["privacy"].items():
        types = pr.get("pii_by_type", pr.get("caption_pii_by_type", {}))
        out += [f"### {mod}", "", pr.get("note", ""), "",
                *_md_table(["PII type", "findings"], [[k, v] for k, v in types.items()] or [["none", 0]])]
        if "faces_blurred" in pr:
            out += [f"Faces blurred: {pr['faces_blurred']:,}; licence plates blurred: {pr['plates_blurred']:,}.", ""]
    out += ["## Skew and bias indicators", "", "Each indicator states what it measures and its limits; "
            "*flagged* means a configured bound was crossed.", ""]
    for mod, inds in sheet["skew"].items():
        out += [f"### {mod}", "", *_md_table(["indicator", "value", "flagged", "bound", "measures", "limits"], [
            [name, _fmt_value(i["value"]), "yes" if i["flagged"] else "no", i["bound"], i["measures"], i["limits"]]
            for name, i in inds.items()])]
        for name, i in inds.items():
            if i.get("method"):
                out += [f"*{name}*: {i['method']}", ""]
    out += ["## Quality", ""]
    for mod, q in sheet["quality"].items():
        if mod == "annotator_precision":
            continue
        out += [f"### {mod}", "", *_md_table(["signal", "count", "p5", "p25", "p50", "p75", "p95", "thresholds"], [
            [n, v.get("count", 0), *(_fmt_value(v.get(f"p{k}", "-")) for k in (5, 25, 50, 75, 95)),
             _fmt_value(v.get("thresholds") or "-")] for n, v in q.get("signals", {}).items()])]
    ap = sheet["quality"].get("annotator_precision", {})
    out += ["### Annotator precision", "", ap.get("how", ""), ""]
    for r in ap.get("runs", []):
        if r["status"] != "judged":
            out += [f"- {r['version']} (run {r['run_id']}): {r['status']}"]
            continue
        for q in r["filters"] + r["queues"]:
            prec = "-" if q["precision"] is None else f"{q['precision']:.3f}"
            out += [f"- {r['version']} {q['kind']} `{q['queue']}`: precision {prec} over {q['judged']} judged"
                    + (f", interval {q['interval'][0]:.3f}–{q['interval'][1]:.3f}" if q.get("interval") else "")]
    out += [""]
    return "\n".join(out)


def _html_bars(items: list[dict[str, Any]], title: str) -> str:
    items = items[:15]
    if not items:
        return ""
    return svgplot.bar_chart([str(d["value"]) for d in items], [d["count"] for d in items], title,
                             horizontal=True, xlabel="rows")


def render_html(sheet: dict[str, Any]) -> str:
    """A small self-contained page: bar charts of the composition and the card's text as tables."""
    esc = html.escape
    name = f"{sheet['dataset']}@{sheet['version']}"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Datasheet {esc(name)}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.flag{color:#b71c1c}</style></head><body>",
             f"<h1>Datasheet of {esc(name)}</h1>",
             f"<p>{sheet['rows']:,} rows; flagged: {esc(', '.join(sheet.get('flags') or []) or 'none')}</p>"]
    for mod, c in sheet["composition"].items():
        parts.append(f"<h2>Composition: {esc(mod)}</h2>")
        for key in ("by_source", "by_license", "by_domain", "by_tld", "by_crawl_month", "by_lang_variant"):
            if c.get(key):
                parts.append(_html_bars(c[key], key.replace("by_", "rows by ").replace("_", " ")))
    for mod, inds in sheet["skew"].items():
        parts.append(f"<h2>Skew indicators: {esc(mod)}</h2><table><tr><th>indicator</th><th>value</th>"
                     "<th>flagged</th><th>measures</th><th>limits</th></tr>")
        for n, i in inds.items():
            cls = " class='flag'" if i["flagged"] else ""
            parts.append(f"<tr{cls}><td>{esc(n)}</td><td>{esc(_fmt_value(i['value']))}</td>"
                         f"<td>{'yes' if i['flagged'] else 'no'}</td><td>{esc(i['measures'])}</td>"
                         f"<td>{esc(i['limits'])}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Full datasheet</h2><pre>" + esc(json.dumps(sheet, ensure_ascii=False, indent=1)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def card_keys(dataset: str, version: str) -> dict[str, str]:
    """The three objects of a version's card."""
    prefix = datasheet_prefix(dataset, version)
    return {"json": f"{prefix}/{JSON_NAME}", "readme": f"{prefix}/{README_NAME}", "html": f"{prefix}/{HTML_NAME}"}


def write_card(store: ObjectStore, dataset: str, version: str,
               bounds: DatasheetBounds | None = None, *, incremental: bool = True) -> dict[str, Any]:
    """Build the datasheet of ``dataset@version`` and store its three forms (README.md last,
    so its presence means the card is complete) and the scans behind it (the next version's
    datasheet starts from them). Returns the datasheet."""
    sheet, ctx = build_with_context(store, dataset, version, bounds, incremental=incremental)
    keys = card_keys(dataset, sheet["version"])
    for modality, (fp, scan) in ctx.scans.items():
        store.put_bytes(state.state_key(dataset, sheet["version"], modality),
                        state.dump(scan, fp, covers=sheet["version"]), "application/octet-stream")
    store.put_bytes(keys["json"], json_bytes(sheet), "application/json")
    store.put_bytes(keys["html"], render_html(sheet).encode("utf-8"), "text/html; charset=utf-8")
    store.put_bytes(keys["readme"], render_readme(sheet).encode("utf-8"), "text/markdown; charset=utf-8")
    log.info("datasheet of %s@%s written under %s", dataset, sheet["version"], datasheet_prefix(dataset, sheet["version"]))
    return sheet


def ensure_card(store: ObjectStore, spec: str) -> tuple[dict[str, str], bool]:
    """The card keys of ``NAME[@REF]``, building and storing the card first if it is missing.
    Returns (keys, whether it was built now)."""
    ref = VersionRef.parse(spec)
    version = VersionStore(store).resolve(ref)
    keys = card_keys(ref.dataset, version)
    if store.exists(keys["readme"]) and store.exists(keys["json"]):
        return keys, False
    try:
        write_card(store, ref.dataset, version)
    except (OSError, ValueError, KeyError) as exc:
        raise CardError(f"could not build the datasheet of {ref.dataset}@{version}: {exc}; "
                        f"check the version with `kho verify {ref.dataset}@{version}`") from exc
    return keys, True


def read_card(store: ObjectStore, keys: dict[str, str], form: str = "readme") -> str:
    """The stored text of one form of a card."""
    try:
        return store.get_text(keys[form])
    except ObjectNotFoundError:
        raise CardError(f"{keys[form]} is missing: run `kho datasets card` again to rebuild it") from None


def write_card_after_commit(store: ObjectStore, dataset: str, version: str) -> bool:
    """Write the card of a version that has just been committed; never raises (the version
    is committed whatever happens here). Returns whether the card was written."""
    try:
        write_card(store, dataset, version)
        return True
    except Exception as exc:  # noqa: BLE001 - a card must never fail a committed run
        log.warning("the datasheet of %s@%s could not be written (%s: %s); the version is committed: "
                    "`kho datasets card %s@%s` builds it on demand", dataset, version,
                    type(exc).__name__, exc, dataset, version)
        return False
