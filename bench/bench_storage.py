"""bench/storage: Kho's shard writers into a real S3 server, against the raw minio client
putting the same bytes in the same run.

Baseline: ``minio.Minio.fput_object`` of the very files our writer produced (so both sides
move identical bytes). Figures: MB/s for (a) the WebDataset writer (tar + index + hash +
upload), (b) the Parquet writer end to end (Arrow -> zstd Parquet + hash + upload; the
encoding is work the raw client does not do), (c) our store's upload path alone.
Ratio = Kho throughput / raw throughput; the target for shard writing is >= 0.8.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from minio import Minio

from bench.common import write_results
from storage.s3 import S3Store
from storage.shards import ParquetShardWriter, WebDatasetShardWriter
from tests.s3server import start_server

WORDS = ("người dân thành phố hội nghị chuyển đổi số dữ liệu doanh nghiệp nông nghiệp giá lúa "
         "xuất khẩu thư viện sách điện tử bóng đá đội tuyển mưa lớn miền Trung du lịch").split()


def _text_table(rows: int, seed: int = 1) -> pa.Table:
    rng = random.Random(seed)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(150, 400))) for _ in range(rows)]
    return pa.table({"id": [f"{i:012d}" for i in range(rows)], "text": texts,
                     "score": [rng.random() for _ in range(rows)]})


def _raw_put(client: Minio, bucket: str, files: list[Path]) -> float:
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        client.fput_object(bucket, f"raw/{i}-{f.name}", str(f), part_size=16 * 1024 * 1024)
    return time.perf_counter() - t0


def _spooled_copies(store: S3Store, keys: list[str], into: Path) -> list[Path]:
    out = []
    for k in keys:
        p = into / k.replace("/", "_")
        store.download(k, p)
        out.append(p)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=256, help="approximate megabytes per writer run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="kho-bench-") as tmp:
        tmp = Path(tmp)
        server = start_server(tmp / "weed")
        os.environ.update(server.env())
        try:
            store = S3Store(server.endpoint, "bench", create_bucket=True)
            raw = Minio(server.endpoint, access_key=server.env()["AWS_ACCESS_KEY_ID"],
                        secret_key=server.env()["AWS_SECRET_ACCESS_KEY"], secure=False)
            figures, ratio = {}, {}

            # (a) WebDataset: 1 MiB binary samples (image-like, incompressible).
            n_samples = args.mb
            payloads = [os.urandom(1024 * 1024) for _ in range(16)]
            kho_t, raw_t, total = [], [], 0
            for r in range(args.repeat):
                t0 = time.perf_counter()
                w = WebDatasetShardWriter(store, f"wds/run{r}", modality="image", target_bytes=64 * 1024 * 1024)
                for i in range(n_samples):
                    w.write(f"s{i:06d}", {"jpg": payloads[i % 16], "json": b'{"caption": "anh"}'})
                infos = w.close()
                kho_t.append(time.perf_counter() - t0)
                total = sum(i.bytes for i in infos)
                files = _spooled_copies(store, [i.key for i in infos], tmp)
                raw_t.append(_raw_put(raw, "bench", files))
                for f in files:
                    f.unlink()
            figures["webdataset_MBps"] = total / 1e6 / min(kho_t)
            figures["webdataset_raw_MBps"] = total / 1e6 / min(raw_t)
            figures["webdataset_bytes"] = total
            ratio["webdataset_vs_raw_minio"] = figures["webdataset_MBps"] / figures["webdataset_raw_MBps"]

            # (b) Parquet end to end, and (c) the upload path alone, on the same files.
            rows = max(1000, args.mb * 500)
            table = _text_table(rows)
            kho_t, raw_t, put_t = [], [], []
            for r in range(args.repeat):
                t0 = time.perf_counter()
                w = ParquetShardWriter(store, f"pq/run{r}", table.schema, modality="text",
                                       target_bytes=64 * 1024 * 1024, row_group_rows=20_000)
                for batch in table.to_batches(max_chunksize=20_000):
                    w.write_table(pa.Table.from_batches([batch]))
                infos = w.close()
                kho_t.append(time.perf_counter() - t0)
                total = sum(i.bytes for i in infos)
                files = _spooled_copies(store, [i.key for i in infos], tmp)
                raw_t.append(_raw_put(raw, "bench", files))
                t0 = time.perf_counter()
                for i, f in enumerate(files):
                    store.put_file(f"put/run{r}/{i}", f)
                put_t.append(time.perf_counter() - t0)
                for f in files:
                    f.unlink()
            figures["parquet_rows"] = rows
            figures["parquet_bytes"] = total
            figures["parquet_end_to_end_MBps"] = total / 1e6 / min(kho_t)
            figures["parquet_raw_MBps"] = total / 1e6 / min(raw_t)
            figures["store_put_file_MBps"] = total / 1e6 / min(put_t)
            ratio["parquet_end_to_end_vs_raw_minio"] = figures["parquet_end_to_end_MBps"] / figures["parquet_raw_MBps"]
            ratio["store_upload_vs_raw_minio"] = figures["store_put_file_MBps"] / figures["parquet_raw_MBps"]
        finally:
            server.stop()

    path = write_results("storage", {"approx_mb": args.mb, "repeat": args.repeat,
                                      "server": "SeaweedFS weed mini 4.48 on 127.0.0.1",
                                      "baseline": "minio.Minio.fput_object of the same files"},
                         figures, ratio)
    for k, v in {**figures, **ratio}.items():
        print(f"{k:40s} {v:,.3f}" if isinstance(v, float) else f"{k:40s} {v:,}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
