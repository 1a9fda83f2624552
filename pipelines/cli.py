"""The ``kho`` command line: ingest runs, dataset versions, pulls, verification and gc.

Every command reads the store from ``--store`` or the KHO_STORE environment variable;
without either it uses the embedded default, a local directory ``.kho/store``.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.table import Table
from rich.text import Text

from storage.errors import StoreError
from storage.uri import DEFAULT_STORE, open_store
from storage.versions import VersionRef, VersionStore, diff_versions

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="kho",
    help=(
        "Kho curates Vietnamese text, image, audio and video into versioned, sharded datasets "
        "on S3-compatible storage (or a local folder).\n\n"
        "Typical session:\n\n"
        "  kho ingest pipelines/configs/sample.yaml   # run an ingest, commit a version\n\n"
        "  kho datasets list                          # what is published\n\n"
        "  kho datasets show vi-text@latest           # one version's manifest\n\n"
        "  kho pull vi-text@v2 ./data --where \"lang = 'vi'\"\n\n"
        "  kho verify vi-text                         # re-hash every shard\n\n"
        f"The store is --store or $KHO_STORE (a path, file://PATH or s3://BUCKET/PREFIX; "
        f"default {DEFAULT_STORE}). S3 credentials come from AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY, the endpoint from ?endpoint=URL or $KHO_S3_ENDPOINT."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="List, inspect, compare and tag dataset versions.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

StoreOpt = Annotated[Optional[str], typer.Option(
    "--store", envvar="KHO_STORE", help="Object store: PATH, file://PATH or s3://BUCKET/PREFIX.")]


def _versions(store: str | None) -> VersionStore:
    return VersionStore(open_store(store))


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@datasets_app.command("list")
def datasets_list(store: StoreOpt = None) -> None:
    """List datasets with their versions and refs."""
    vs = _versions(store)
    table = Table("dataset", "versions", "latest", "refs", "rows", "bytes")
    for name in vs.datasets():
        versions = vs.versions(name)
        refs = vs.refs(name)
        latest = refs.get("latest")
        m = vs.manifest(f"{name}@{latest}") if latest else None
        table.add_row(name, str(len(versions)), latest or "-",
                      ", ".join(f"{k}→{v}" for k, v in sorted(refs.items()) if k != "latest") or "-",
                      f"{m.total_rows:,}" if m else "-", _human(m.total_bytes) if m else "-")
    console.print(table)


@datasets_app.command("show")
def datasets_show(spec: Annotated[str, typer.Argument(help="NAME[@REF], REF a version id or a ref; default latest.")],
                  store: StoreOpt = None,
                  as_json: Annotated[bool, typer.Option("--json", help="Print the raw manifest.")] = False) -> None:
    """Show one version: lineage, sources, totals by modality and format, Merkle root."""
    vs = _versions(store)
    m = vs.manifest(VersionRef.parse(spec))
    if as_json:
        console.print_json(m.model_dump_json())
        return
    console.print(f"[bold]{m.dataset}@{m.version}[/]  parent: {m.parent or '-'}  created: {m.created_at:%Y-%m-%d %H:%M:%S}Z")
    console.print(f"code {m.code_version}  run {m.run_id or '-'}  config {m.config_hash[:12] or '-'}")
    console.print(f"merkle root {m.merkle_root}")
    _report_line(vs, m)
    by = {}
    for s in vs.shards(m):
        k = (s.modality, s.format)
        n, r, b = by.get(k, (0, 0, 0))
        by[k] = (n + 1, r + s.rows, b + s.bytes)
    table = Table("modality", "format", "shards", "rows", "bytes")
    for (mod, fmt), (n, r, b) in sorted(by.items()):
        table.add_row(mod, fmt, f"{n:,}", f"{r:,}", _human(b))
    console.print(table)
    if m.sources:
        src = Table("source", "uri", "inputs", "kept")
        for s in m.sources:
            src.add_row(s.name, s.uri, f"{s.inputs:,}", f"{s.kept:,}")
        console.print(src)


def _report_line(vs: VersionStore, m) -> None:
    """Say where the run report is; rebuild it if a run was killed right after its commit."""
    from pipelines.commit import repair_run
    from pipelines.report import render_report

    if not m.run_id:
        return
    key = f"runs/{m.run_id}/report.html"
    if repair_run(vs.store, m.run_id, m.version, render_report):
        console.print(f"report {key} (rebuilt: run {m.run_id} was interrupted after its commit)")
    elif vs.store.exists(key):
        console.print(f"report {key}")
    else:
        console.print(f"[yellow]no report[/]: runs/{m.run_id}/ has no stats to rebuild it from")


@datasets_app.command("repair")
def datasets_repair(name: Annotated[str, typer.Argument(help="Dataset name.")], store: StoreOpt = None) -> None:
    """Finish what an interrupted run left: move `latest` to the highest version, rebuild its report."""
    from pipelines.ingest import repair_dataset

    vs = _versions(store)
    before = vs.refs(name).get("latest")
    repair_dataset(vs, name)
    after = vs.refs(name).get("latest")
    console.print(f"{name}@latest: {before or '-'}" + (f" → {after}" if after != before else " (unchanged)"))


@datasets_app.command("diff")
def datasets_diff(a: Annotated[str, typer.Argument(help="NAME@A")], b: Annotated[str, typer.Argument(help="NAME@B")],
                  store: StoreOpt = None) -> None:
    """Shards and rows that B adds to or removes from A."""
    vs = _versions(store)
    ma, mb = vs.manifest(VersionRef.parse(a)), vs.manifest(VersionRef.parse(b))
    d = diff_versions(vs, ma, mb)
    console.print(f"{ma.dataset}@{ma.version} → {mb.dataset}@{mb.version}: "
                  f"[green]+{len(d.added)} shards (+{d.rows_added:,} rows)[/], "
                  f"[red]-{len(d.removed)} shards (-{d.rows_removed:,} rows)[/]")
    for s in d.added:
        console.print(f"  [green]+ {s.key}[/] ({s.rows:,} rows)")
    for s in d.removed:
        console.print(f"  [red]- {s.key}[/] ({s.rows:,} rows)")


@datasets_app.command("tag")
def datasets_tag(spec: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME@REF) to tag.")],
                 tag: Annotated[str, typer.Argument(help="Ref name to create or move, e.g. release-2026-11.")],
                 store: StoreOpt = None) -> None:
    """Point a ref (a tag such as ``release-1``) at a version."""
    vs = _versions(store)
    ref = VersionRef.parse(spec)
    version = vs.resolve(ref)
    vs.tag(ref.dataset, tag, version)
    console.print(f"{ref.dataset}@{tag} → {version}")


def _byte_progress(total: int, label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=err_console, transient=False,
                    disable=not err_console.is_terminal and total == 0)


def _where_column_error(vs: VersionStore, m, modality: str | None, where: str) -> ValueError:
    """The filter names a column that a shard lacks: say which, with the closest real names.

    pyarrow's own error prints the whole schema over many lines; the shards' footers are
    read (not their data) until one lacks a column the filter uses."""
    import pyarrow.parquet as pq

    from storage.where import UnknownColumnError, check_columns

    fs, root = vs.store.arrow_filesystem()
    for shard in [s for s in vs.shards(m, modality) if s.format == "parquet"][:200]:
        with fs.open_input_file(f"{root}/{shard.key}") as fh:
            try:
                check_columns(where, pq.read_schema(fh))
            except UnknownColumnError as err:
                return err
    return UnknownColumnError(f"a column named in --where is missing from some shards of "
                              f"{m.dataset}@{m.version}; check the column names")


@app.command()
def pull(spec: Annotated[str, typer.Argument(help="NAME[@REF] to pull (default ref: latest).")],
         dest: Annotated[Path, typer.Argument(help="Local folder; rerun the same command to resume.")],
         store: StoreOpt = None,
         modality: Annotated[Optional[str], typer.Option(help="Only this modality (text, image, audio, video).")] = None,
         where: Annotated[Optional[str], typer.Option(help="Row filter applied to Parquet shards while pulling, e.g. \"lang = 'vi' AND lang_score >= 0.8\".")] = None,
         workers: Annotated[int, typer.Option(min=1, max=64, help="Parallel downloads.")] = 8) -> None:
    """Download a version's shards: parallel, resumable, every shard checked against its sha256."""
    from storage.pull import pull_version

    vs = _versions(store)
    m = vs.manifest(VersionRef.parse(spec))
    total = sum(s.bytes for s in vs.shards(m, modality))
    with _byte_progress(total, f"pull {m.dataset}@{m.version}") as progress:
        task = progress.add_task("pull", total=total)
        try:
            report = pull_version(vs, m, dest, modality=modality, where=where, workers=workers,
                                  on_bytes=lambda n: progress.advance(task, n))
        except ValueError as exc:  # pyarrow's ArrowInvalid: --where names a missing column
            if not where or "No match for FieldRef" not in str(exc):
                raise
            raise _where_column_error(vs, m, modality, where) from None
    console.print(f"pulled {len(report.fetched)} shards ({_human(report.bytes_fetched)}), "
                  f"{len(report.skipped)} already present; {report.rows_written:,} rows in {dest}")


@app.command()
def verify(spec: Annotated[str, typer.Argument(help="NAME[@REF] to verify (default ref: latest).")],
           store: StoreOpt = None,
           workers: Annotated[int, typer.Option(min=1, max=64)] = 8) -> None:
    """Re-hash every shard of a version and check its Merkle roots; exit 1 naming bad shards."""
    from storage.verify import verify_version

    vs = _versions(store)
    m = vs.manifest(VersionRef.parse(spec))
    with _byte_progress(m.total_bytes, f"verify {m.dataset}@{m.version}") as progress:
        task = progress.add_task("verify", total=m.total_bytes)
        report = verify_version(vs, m, workers=workers, on_bytes=lambda n: progress.advance(task, n))
    if report.ok:
        console.print(f"[green]OK[/] {m.dataset}@{m.version}: {report.shards_checked} shards, "
                      f"{_human(report.bytes_checked)}, merkle root {m.merkle_root[:16]}…")
        return
    for key, problem in report.problems:
        err_console.print(f"[red]BAD[/] {key}: {problem}")
    err_console.print(f"{len(report.problems)} problem(s) in {m.dataset}@{m.version}")
    raise typer.Exit(1)


@app.command()
def gc(store: StoreOpt = None,
       dataset: Annotated[Optional[list[str]], typer.Option(help="Only these datasets (repeatable).")] = None,
       grace_hours: Annotated[float, typer.Option(min=0, help="Keep unreferenced objects younger than this (runs still writing).")] = 24.0,
       delete: Annotated[bool, typer.Option("--delete", help="Really delete. Without it gc only reports (dry run).")] = False) -> None:
    """Find what no version references and no live run holds (left by crashed runs) under every
    prefix Kho writes: shards, shard lists, run folders, index shards, leases, temp files.
    Objects of live runs are never touched, whatever the grace period."""
    from storage.gc import collect_garbage

    vs = _versions(store)
    report = collect_garbage(vs, dataset, grace=timedelta(hours=grace_hours), dry_run=not delete)
    for obj in report.unreferenced:
        console.print(f"{'deleted' if delete else 'would delete'} {obj.key} ({_human(obj.size)})")
    console.print(f"{len(report.unreferenced)} unreferenced objects ({_human(report.reclaimable_bytes)}), "
                  f"{len(report.too_recent)} younger than the grace period kept, "
                  f"{len(report.live)} held by live runs kept"
                  + ("" if delete else "; rerun with --delete to remove them"))


SAMPLE_CONFIG = Path(__file__).parent / "configs" / "sample.yaml"


def _print_summary(result, store) -> None:
    stats = result.stats
    table = Table(title=f"run {result.run_id} → {stats['dataset']}@{result.version}")
    table.add_column("source", no_wrap=True)
    for name in ("inputs", "kept", "rejected", "quarantined", "duplicates", "reconciles"):
        table.add_column(name, justify="right")
    for name, r in {**stats["sources"], "TOTAL": stats["totals"]}.items():
        table.add_row(name, f"{r['inputs']:,}", f"{r['kept']:,}", f"{r['rejected']:,}",
                      f"{r['quarantined']:,}", f"{r['duplicates']:,}",
                      "[green]yes[/]" if r["reconciles"] else "[red]NO[/]")
    console.print(table)
    for title, counts in (("rejected by reason", stats["rejected_by_reason"]),
                          ("quarantined by error", stats["quarantined_by_error"]),
                          ("PII findings by type", stats["pii_by_type"])):
        if counts:
            t = Table("what", "count", title=title)
            for k, v in counts.items():
                t.add_row(k, f"{v:,}")
            console.print(t)
    console.print(f"report: {store.url(result.report_key)}")


def _ingest(config: Path, store_uri: str | None, beam_args: list[str]):
    from rich.progress import MofNCompleteColumn, SpinnerColumn, TimeElapsedColumn

    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest

    cfg = load_ingest_config(config)
    store = open_store(store_uri or cfg.store)
    with Progress(SpinnerColumn(), TextColumn("[bold]ingest {task.fields[name]}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("files · {task.fields[records]:,} records read"),
                  TimeElapsedColumn(), console=err_console) as progress:
        task = progress.add_task("ingest", total=None, name=cfg.dataset, records=0)

        def on_progress(done: int, total: int, records: int) -> None:
            progress.update(task, completed=done, total=total, records=records)

        result = run_ingest(cfg, store, beam_args, on_progress=on_progress)
    for uri, run in sorted((result.held_inputs or {}).items()):
        err_console.print(f"skipped {uri}: being ingested by live run {run}")
    if result.version is None:
        console.print(f"nothing new to ingest: all {len(result.skipped_inputs)} inputs of "
                      f"{cfg.dataset} are already in the ledger")
    else:
        _print_summary(result, store)
    return result, store


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ingest(ctx: typer.Context,
           config: Annotated[Path, typer.Argument(help="Ingest config (YAML); see pipelines/configs/sample.yaml.")],
           store: StoreOpt = None) -> None:
    """Run one ingest of the config's sources into its dataset and commit a new version.

    Extra arguments go to Beam: the local FnApiRunner by default, e.g.
    `--direct_running_mode=multi_processing --direct_num_workers=2`, or another runner's
    options unchanged (`--runner=FlinkRunner --flink_master=HOST:8081 ...`).
    Inputs already ingested (the source's ledger) are skipped, so a rerun is idempotent.
    """
    _ingest(config, store, list(ctx.args))


@app.command()
def demo(store: StoreOpt = None) -> None:
    """Ingest the bundled Vietnamese sample into the store, then verify the version."""
    from storage.verify import verify_version

    result, st = _ingest(SAMPLE_CONFIG, store, [])
    vs = VersionStore(st)
    m = vs.manifest("vi-text-sample@latest")
    report = verify_version(vs, m)
    if not report.ok:
        for key, problem in report.problems:
            err_console.print(f"[red]BAD[/] {key}: {problem}")
        raise typer.Exit(1)
    console.print(f"[green]verified[/] vi-text-sample@{m.version}: {report.shards_checked} shards, "
                  f"{m.total_rows:,} rows, merkle root {m.merkle_root[:16]}…")
    console.print("next: `kho datasets show vi-text-sample`, "
                  "`kho pull vi-text-sample ./demo-out --where \"lang_score >= 0.9\"`")


def main() -> None:
    """Entry point: run the app, turning Kho's typed errors into one clear line and exit 2.

    The message is printed as it is (no markup, no wrapping at the terminal's width), and
    urllib3's own connection warnings are silenced: the store's retry loop already says,
    once, that it is retrying, and its final error names the endpoint."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    try:
        app()
    except (StoreError, ValueError, RuntimeError) as exc:
        if os.environ.get("KHO_DEBUG"):
            raise
        message = str(exc)
        sep = "\n" if "\n" in message else " "  # a multi-line message (a --where pointer)
        err_console.print(Text.assemble(("error: ", "red"), message, sep,
                                        "(KHO_DEBUG=1 shows the traceback)"), soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
