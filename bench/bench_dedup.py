"""bench/dedup: Kho's near-duplicate removal (MinHash LSH + connected components on Beam)
against datatrove's MinHash steps (Signature -> Buckets -> Cluster -> Filter on its
LocalPipelineExecutor), same documents, same 5-grams / 14 bands x 8 rows, same run.

Figures: precision / recall / F1 of duplicate-pair detection at Jaccard 0.8 against the
corpus's ground truth (bench/dedup_corpus.py), throughput (docs/s, end to end from JSONL on
disk to duplicate decisions), Kho/datatrove ratio, and scaling at 1x, 4x, 16x the corpus.
Also: syllable vs word (underthesea) tokens and pair verification on/off, on the same truth.

Both sides use 2 workers (FnApiRunner multi_processing; datatrove's local executor) and the
same tokens (whitespace syllables; datatrove gets a WordTokenizer that splits on spaces, and
its text normalization keeps diacritics, as Kho's does).

    python -m bench.bench_dedup [--docs N] [--workers 2] [--no-scaling]
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from bench.common import write_jsonl_parts, write_results
from bench.dedup_corpus import Corpus, generate
from filters.minhash import MinHashConfig, MinHasher, tokenize
from pipelines.dedup import NAMESPACE, NearDuplicates, text_dedup_item

log = logging.getLogger("bench.dedup")


# ------------------------------------------------------------------------------ plumbing


def _rows(corpus: Corpus) -> Iterator[dict[str, str]]:
    """The corpus as JSONL rows (both systems read the same files)."""
    return ({"id": doc_id, "text": text} for doc_id, text in corpus.docs)


def cluster_pairs(groups: dict[Any, list[str]]) -> set[tuple[str, str]]:
    """Unordered same-cluster pairs."""
    return {(a, b) if a < b else (b, a) for m in groups.values() for i, a in enumerate(m) for b in m[i + 1:]}


def prf(pred: set, truth: set) -> dict[str, float]:
    """Precision, recall, F1 of predicted duplicate pairs."""
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "pred_pairs": len(pred), "true_pairs": len(truth)}


def beam_args(workers: int) -> list[str]:
    args = ["--runner=FnApiRunner"]
    if workers > 1:
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    return args


# ----------------------------------------------------------------------------------- Kho


class _Sign(beam.DoFn):
    """JSONL line -> DedupItem; the hasher is built once per worker."""

    def __init__(self, cfg: MinHashConfig) -> None:
        self.cfg = cfg

    def setup(self) -> None:
        self.hasher = MinHasher.from_config(self.cfg)

    def process(self, line: str):
        doc = json.loads(line)
        yield text_dedup_item(doc["id"], doc["text"], self.hasher, ())


def run_kho(data: Path, out: Path, cfg: MinHashConfig, workers: int) -> tuple[set, float, dict[str, int]]:
    """Run the Kho pipeline; return (predicted pairs, seconds, dedup counters)."""
    t0 = time.perf_counter()
    p = beam.Pipeline(options=PipelineOptions(beam_args(workers)))
    (p | "Read" >> beam.io.ReadFromText(str(data / "*.jsonl"))
       | "Sign" >> beam.ParDo(_Sign(cfg))
       | "NearDuplicates" >> NearDuplicates(cfg)
       | "Format" >> beam.Map(lambda kv: f"{kv[0]}\t{kv[1]}")
       | "Write" >> beam.io.WriteToText(str(out / "pairs")))
    result = p.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - t0
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(NAMESPACE))["counters"]}
    groups: dict[str, list[str]] = {}
    for f in glob.glob(str(out / "pairs*")):
        for line in Path(f).read_text().splitlines():
            dup, kept = line.split("\t")
            groups.setdefault(kept, [kept]).append(dup)
    return cluster_pairs(groups), seconds, counters


def converged_after(counters: dict[str, int], rounds: int) -> int | None:
    """The first round after which no large-star/small-star step changed anything."""
    for r in range(1, rounds + 1):
        if not any(counters.get(f"cc_round_{q:02d}_{k}_changes", 0) for q in range(r + 1, rounds + 1)
                   for k in ("large", "small")):
            return r
    return None


# ----------------------------------------------------------------------------- datatrove

try:
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SyllableTokenizer(WordTokenizer):
        """Whitespace tokens for datatrove: the same syllable shingles Kho uses."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [s for s in text.split(".") if s.strip()]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            out, pos = [], 0
            for s in self.sent_tokenize(text):
                start = text.index(s, pos)
                out.append((start, start + len(s)))
                pos = start + len(s)
            return out
except ImportError:  # pragma: no cover
    SyllableTokenizer = None  # type: ignore[assignment,misc]


def run_datatrove(data: Path, work: Path, cfg: MinHashConfig, workers: int, files: int) -> tuple[set, float]:
    """Run datatrove's four MinHash steps; return (predicted pairs, seconds)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.text import TextNormConfig

    mh = MinhashConfig(n_grams=cfg.ngram, num_buckets=cfg.bands, hashes_per_bucket=cfg.rows, seed=cfg.seed,
                       hash_config=HashConfig(precision=64), norm_config=TextNormConfig(norm_unicode_diacritics=False))
    tok = SyllableTokenizer()
    t0 = time.perf_counter()
    s1 = LocalPipelineExecutor([JsonlReader(str(data)), MinhashDedupSignature(str(work / "sigs"), config=mh, language=tok)],
                               tasks=files, workers=workers, logging_dir=str(work / "logs/1"))
    s2 = LocalPipelineExecutor([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=mh)],
                               tasks=cfg.bands, workers=workers, logging_dir=str(work / "logs/2"), depends=s1)
    s3 = LocalPipelineExecutor([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=mh,
                                                    save_cluster_id=True)],
                               tasks=1, logging_dir=str(work / "logs/3"), depends=s2)
    s4 = LocalPipelineExecutor([JsonlReader(str(data)),
                                MinhashDedupFilter(str(work / "remove"), load_cluster_ids=True,
                                                   exclusion_writer=JsonlWriter(str(work / "removed"), compression=None)),
                                JsonlWriter(str(work / "kept"), compression=None)],
                               tasks=files, workers=workers, logging_dir=str(work / "logs/4"), depends=s3)
    s4.run()
    seconds = time.perf_counter() - t0
    groups: dict[int, list[str]] = {}
    for f in glob.glob(str(work / "kept/*")) + glob.glob(str(work / "removed/*")):
        opener = gzip.open if f.endswith(".gz") else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                cid = doc.get("metadata", {}).get("minhash_cluster_id", -1)
                if cid != -1:
                    groups.setdefault(cid, []).append(doc["id"])
    return cluster_pairs(groups), seconds


# ---------------------------------------------------------------------------------- runs


def one_size(n_docs: int, seed: int, cfg: MinHashConfig, workers: int, tmp: Path, files: int = 4) -> dict[str, Any]:
    """Both systems on one generated corpus of ``n_docs``."""
    corpus = generate(n_docs, seed=seed)
    truth = corpus.true_pairs()
    data = tmp / f"data-{n_docs}"
    write_jsonl_parts(_rows(corpus), data, files)
    kho_pairs, kho_s, counters = run_kho(data, tmp / f"kho-{n_docs}", cfg, workers)
    dt_pairs, dt_s = run_datatrove(data, tmp / f"dt-{n_docs}", cfg, workers, files)
    row = {"docs": len(corpus.docs),
           "kho": {**prf(kho_pairs, truth), "seconds": round(kho_s, 2), "docs_per_s": round(len(corpus.docs) / kho_s, 1),
                   "us_per_doc": round(1e6 * kho_s / len(corpus.docs), 1),
                   "cc_converged_after_round": converged_after(counters, cfg.cc_rounds),
                   "cc_unresolved_nodes": counters.get("cc_unresolved_nodes", 0),
                   "edges_rejected_by_verification": counters.get("edges_rejected_by_verification", 0),
                   "oversized_buckets": counters.get("oversized_buckets", 0)},
           "datatrove": {**prf(dt_pairs, truth), "seconds": round(dt_s, 2),
                         "docs_per_s": round(len(corpus.docs) / dt_s, 1),
                         "us_per_doc": round(1e6 * dt_s / len(corpus.docs), 1)}}
    row["ratio_throughput"] = round(row["kho"]["docs_per_s"] / row["datatrove"]["docs_per_s"], 3)
    return row


def tokenization_study(n_docs: int, seed: int, cfg: MinHashConfig, tmp: Path) -> dict[str, Any]:
    """F1 and signing cost of syllable vs word tokens, and of verification on/off."""
    corpus = generate(n_docs, seed=seed)
    truth = corpus.true_pairs()
    data = tmp / "data-tok"
    write_jsonl_parts(_rows(corpus), data, 2)
    out: dict[str, Any] = {"docs": len(corpus.docs)}
    variants = {"syllable+verify": cfg, "syllable-noverify": cfg.model_copy(update={"verify_pairs": False}),
                "word+verify": cfg.model_copy(update={"tokenization": "word"}),
                "word-noverify": cfg.model_copy(update={"tokenization": "word", "verify_pairs": False})}
    for name, c in variants.items():
        pairs, _, _ = run_kho(data, tmp / f"tok-{name}", c, 1)
        out[name] = prf(pairs, truth)
    texts = [t for _, t in corpus.docs]
    for mode in ("syllable", "word"):
        h = MinHasher.from_config(cfg.model_copy(update={"tokenization": mode}))
        t0 = time.perf_counter()
        for t in texts:
            h.signature(tokenize(t, mode))
        out[f"{mode}_ms_per_doc"] = round(1e3 * (time.perf_counter() - t0) / len(texts), 3)
    return out


def print_table(sizes: list[dict[str, Any]], tok: dict[str, Any] | None) -> None:
    print(f"{'docs':>7} | {'system':<9} | {'P':>6} {'R':>6} {'F1':>6} | {'docs/s':>8} {'us/doc':>8} | ratio")
    for row in sizes:
        for name in ("kho", "datatrove"):
            r = row[name]
            ratio = row["ratio_throughput"] if name == "kho" else ""
            print(f"{row['docs']:>7} | {name:<9} | {r['precision']:>6} {r['recall']:>6} {r['f1']:>6} | "
                  f"{r['docs_per_s']:>8} {r['us_per_doc']:>8} | {ratio}")
    if tok:
        print(f"\ntokenization / verification on {tok['docs']} docs (Kho):")
        for k, v in tok.items():
            if isinstance(v, dict):
                print(f"  {k:<20} P={v['precision']} R={v['recall']} F1={v['f1']}")
        print(f"  signing cost: syllable {tok['syllable_ms_per_doc']} ms/doc, word {tok['word_ms_per_doc']} ms/doc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1500, help="corpus size at 1x (scaling runs 4x and 16x)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tok-docs", type=int, default=600, help="corpus size of the tokenization study (0: skip)")
    ap.add_argument("--no-scaling", action="store_true", help="only the 1x size")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        from datatrove.utils.logging import logger as dt_logger
        dt_logger.remove()
    except Exception:  # noqa: BLE001 - quieter output only
        pass
    cfg = MinHashConfig()
    mults = [1] if args.no_scaling else [1, 4, 16]
    with tempfile.TemporaryDirectory(prefix="kho-bench-dedup-") as d:
        tmp = Path(d)
        sizes = []
        for m in mults:
            sizes.append(one_size(args.docs * m, args.seed + m, cfg, args.workers, tmp))
            print(f"done {args.docs * m} docs", flush=True)
        tok = tokenization_study(args.tok_docs, args.seed + 99, cfg, tmp) if args.tok_docs else None
    print_table(sizes, tok)
    base = sizes[0]
    figures = {"sizes": sizes, "tokenization": tok,
               "scaling_us_per_doc": {"kho": [s["kho"]["us_per_doc"] for s in sizes],
                                      "datatrove": [s["datatrove"]["us_per_doc"] for s in sizes]}}
    ratio = {"throughput_kho_over_datatrove": base["ratio_throughput"],
             "throughput_at_each_size": [s["ratio_throughput"] for s in sizes],
             "f1_kho_minus_datatrove": round(base["kho"]["f1"] - base["datatrove"]["f1"], 4)}
    inputs = {"docs_1x": args.docs, "multipliers": mults, "workers": args.workers, "seed": args.seed,
              "config": cfg.model_dump(), "baseline": "datatrove 0.10.1 MinhashDedupSignature/Buckets/Cluster/Filter "
              "on LocalPipelineExecutor, same files, same ngram/bands/rows, whitespace tokens"}
    path = write_results("dedup", inputs, figures, ratio)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
