"""The ``kho`` command line: ingest runs, dataset versions, pulls, verification, gc and the
annotators' review app (``kho review``, in review/cli.py).

Every command reads the store from ``--store`` or the KHO_STORE environment variable;
without either it uses the embedded default, a local directory ``.kho/store``.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from review.cli import app as review_app
from storage.errors import StoreError
from storage.uri import DEFAULT_STORE, init_store, open_store
from storage.versions import VersionRef, VersionStore, diff_versions

#: The line width without a terminal (a file, a pipe, a scheduler's log): wide enough that
#: no table header, path or presigned URL is ever cut, wrapped or shortened with "…".
PLAIN_WIDTH = 100_000


class KhoConsole(Console):
    """A rich console that prints full lines when its output is not a terminal.

    On a terminal it behaves as rich does (fits the window). Otherwise it is PLAIN_WIDTH
    wide and soft-wraps (never inserts line breaks), so logs keep every line whole. Decided
    at each print: tests and ``kho ... > file`` swap stdout after import."""

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        return size if self.is_terminal else ConsoleDimensions(PLAIN_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)

    @property
    def soft_wrap(self) -> bool:
        return self._kho_soft_wrap or not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._kho_soft_wrap = value


console = KhoConsole()
err_console = KhoConsole(stderr=True)


class _DropBeamImportNoise(logging.Filter):
    """Beam logs "apitools not found, and bigquery client libraries are not available" on the
    root logger when it is imported: Kho never uses BigQuery, so the line is noise in every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and record.getMessage().startswith("apitools not found"))


logging.getLogger().addFilter(_DropBeamImportNoise())

app = typer.Typer(
    name="kho",
    help=(
        "Kho curates Vietnamese text, image, audio and video into versioned, sharded datasets "
        "on S3-compatible storage (or a local folder).\n\n"
        "Typical session:\n\n"
        "  kho store init                             # once: create its bucket or folder\n\n"
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
store_app = typer.Typer(help="Set up an object store before its first run.", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(review_app, name="review")

StoreOpt = Annotated[Optional[str], typer.Option(
    "--store", envvar="KHO_STORE", help="Object store: PATH, file://PATH or s3://BUCKET/PREFIX.")]


def _versions(store: str | None) -> VersionStore:
    return VersionStore(open_store(store))


def _table(*headers: str, title: str | None = None, right: tuple[str, ...] = ()) -> Table:
    """A table whose headers are never shortened and whose cells fold rather than lose text."""
    table = Table(title=title)
    for h in headers:
        table.add_column(h, min_width=len(h), overflow="fold", justify="right" if h in right else "left")
    return table


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
    table = _table("dataset", "versions", "latest", "refs", "rows", "bytes",
                   right=("versions", "rows", "bytes"))
    for name in vs.datasets():
        versions = vs.versions(name)
        refs = vs.refs(name)
        latest = refs.get("latest")
        m = vs.manifest(f"{name}@{latest}") if latest else None
        table.add_row(name, str(len(versions)), latest or "-",
                      ", ".join(f"{k}→{v}" for k, v in sorted(refs.items()) if k != "latest") or "-",
                      f"{m.total_rows:,}" if m else "-", _human(m.total_bytes) if m else "-")
    console.print(table)


#: Versions of the lineage ``kho datasets show`` lists unless told otherwise.
SHOW_LINEAGE = 10


@datasets_app.command("show")
def datasets_show(spec: Annotated[str, typer.Argument(help="NAME[@REF], REF a version id or a ref; default latest.")],
                  store: StoreOpt = None,
                  as_json: Annotated[bool, typer.Option("--json", help="Print the raw manifest.")] = False,
                  lineage: Annotated[int, typer.Option(
                      min=0, help="How many versions of the lineage to list, newest first (0: all of them; "
                                  "each one is a manifest read).")] = SHOW_LINEAGE) -> None:
    """Show one version: its lineage (the last --lineage parent versions and the runs that
    made them), their sources, totals by modality and format, and the Merkle root.

    The totals come from the manifest alone: showing a version reads its manifest and those
    of the versions listed, never its shard lists (versions committed before per-format
    totals existed do read their lists)."""
    vs = _versions(store)
    m = vs.manifest(VersionRef.parse(spec))
    if as_json:
        console.print_json(m.model_dump_json())
        return
    console.print(f"[bold]{m.dataset}@{m.version}[/]  parent: {m.parent or '-'}  created: {m.created_at:%Y-%m-%d %H:%M:%S}Z")
    console.print(f"code {m.code_version}  run {m.run_id or '-'}  config {m.config_hash[:12] or '-'}")
    console.print(f"merkle root {m.merkle_root}")
    _report_line(vs, m)
    by = vs.format_totals(m)
    table = _table("modality", "format", "shards", "rows", "bytes", right=("shards", "rows", "bytes"))
    for (mod, fmt), (n, r, b) in sorted(by.items()):
        table.add_row(mod, fmt, f"{n:,}", f"{r:,}", _human(b))
    console.print(table)
    # one manifest beyond the shown ones, for the oldest shown version's "rows added"
    chain, broken = _lineage(vs, m, limit=lineage + 1 if lineage else None)
    more = lineage and len(chain) > lineage
    shown = chain[:lineage] if more else chain
    title = f"lineage of {m.dataset}@{m.version} (newest first" + (
        f"; the last {lineage}, --lineage 0 lists all)" if more else ")")
    table = _table("version", "created", "run", "sources", "rows", "rows added", title=title,
                   right=("rows", "rows added"))
    for i, v in enumerate(shown):
        below = chain[i + 1].total_rows if i + 1 < len(chain) else 0
        table.add_row(v.version, f"{v.created_at:%Y-%m-%d %H:%M:%S}Z", v.run_id or "-",
                      ", ".join(s.name for s in v.sources) or "-", f"{v.total_rows:,}",
                      f"{v.total_rows - below:+,}" if i + 1 < len(chain) or not broken else "?")
    if broken and not more:
        table.add_row(broken[0], "?", "?", Text(broken[1]), "?", "?")
    console.print(table)
    chain = shown
    sources = [(v, s) for v in chain for s in v.sources]
    if sources:
        src = _table("source", "uri", "inputs", "kept", "version", "run", right=("inputs", "kept"),
                     title=f"sources of {m.dataset}@{m.version} and its ancestors")
        for v, s in sources:
            src.add_row(s.name, Text(s.uri), f"{s.inputs:,}", f"{s.kept:,}", v.version, v.run_id or "-")
        console.print(src)


def _lineage(vs: VersionStore, m, limit: int | None = None) -> tuple[list, tuple[str, str] | None]:
    """``m`` and its ancestors, newest first, following each manifest's ``parent``, at most
    ``limit`` manifests (None: back to the first version).

    If an ancestor cannot be read, the chain stops there and the second item says which
    one and why: (version, problem)."""
    chain, seen = [m], {m.version}
    parent = m.parent
    while parent and (limit is None or len(chain) < limit):
        if parent in seen:
            return chain, (parent, f"parent loop at {parent}: the manifests disagree, run `kho verify`")
        seen.add(parent)
        try:
            m = vs.manifest(VersionRef(m.dataset, parent))
        except StoreError as exc:
            return chain, (parent, f"unreadable: {exc}")
        chain.append(m)
        parent = m.parent
    return chain, None


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
                  store: StoreOpt = None,
                  top: Annotated[int, typer.Option(min=1, help="Composition moves to show.")] = 20) -> None:
    """Shards and rows that B adds to or removes from A, then the composition moves (sources,
    licences, domains, variants, crawl months, dialect regions) from the two datasheets."""
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
    _composition_diff(vs, ma, mb, top)


def _composition_diff(vs: VersionStore, ma, mb, top: int) -> None:
    """Print which sources, licences, domains, variants, months and dialect regions moved
    (from the datasheets; a datasheet that cannot be built is reported, not fatal)."""
    from pipelines.datasheet.diff import composition_deltas, load_datasheet

    try:
        deltas = composition_deltas(load_datasheet(vs.store, ma.dataset, ma.version),
                                    load_datasheet(vs.store, mb.dataset, mb.version))
    except (StoreError, OSError, ValueError, KeyError) as exc:
        err_console.print(f"[yellow]no composition deltas[/]: a datasheet could not be built ({exc}); "
                          f"try `kho datasets card {mb.dataset}@{mb.version}`")
        return
    if not deltas:
        console.print("composition: unchanged")
        return
    table = _table("modality", "dimension", "value", "rows A", "rows B", "share A", "share B", "change",
                   title=f"composition moves, largest first ({min(top, len(deltas))} of {len(deltas)})",
                   right=("rows A", "rows B", "share A", "share B", "change"))
    for r in deltas[:top]:
        table.add_row(r["modality"], r["dimension"], Text(str(r["value"])), f"{r['rows_a']:,}", f"{r['rows_b']:,}",
                      f"{r['share_a']:.1%}", f"{r['share_b']:.1%}", f"{r['share_change'] * 100:+.1f} pp")
    console.print(table)


@datasets_app.command("card")
def datasets_card(spec: Annotated[str, typer.Argument(help="NAME[@REF], REF a version id or a ref; default latest.")],
                  store: StoreOpt = None,
                  as_json: Annotated[bool, typer.Option("--json", help="Print datasheet.json instead of the card.")] = False
                  ) -> None:
    """Print a version's datasheet as a Hugging Face dataset card (README.md), building and
    storing it first if the commit did not (an older version, or a run interrupted after its commit)."""
    from pipelines.datasheet.card import ensure_card, read_card

    st = open_store(store)
    keys, built = ensure_card(st, spec)
    if built:
        err_console.print(f"built the datasheet: {keys['readme'].rsplit('/', 1)[0]}/")
    text = read_card(st, keys, "json" if as_json else "readme")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


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
         where: Annotated[Optional[str], typer.Option(help="Row filter on the shards' columns, e.g. \"lang = 'vi' AND lang_score >= 0.8\": Parquet shards are filtered while pulling; WebDataset tars by their Parquet index, fetching only the matching members (\"faces >= 1 AND signals.blur > 50\").")] = None,
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
    if report.card is not None:
        console.print(f"datasheet: {report.card / 'README.md'}")


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
       delete: Annotated[bool, typer.Option("--delete", help="Really delete. Without it gc only reports (dry run).")] = False,
       full: Annotated[bool, typer.Option("--full", help="Audit: LIST every prefix Kho writes and read every shard list (also finds strays no run folder leads to). Costs O(bucket).")] = False) -> None:
    """Find what no version references and no live run holds (left by crashed runs) under every
    prefix Kho writes: shards, shard lists, run folders, index shards, leases, temp files.
    Objects of live runs are never touched, whatever the grace period. By default gc looks only
    at the folders of runs it has not swept yet (gc/<dataset>/checkpoint.json; docs/scale.md)."""
    from storage.gc import collect_garbage

    vs = _versions(store)
    report = collect_garbage(vs, dataset, grace=timedelta(hours=grace_hours), dry_run=not delete,
                             full=full)
    for obj in report.unreferenced:
        console.print(f"{'deleted' if delete else 'would delete'} {obj.key} ({_human(obj.size)})")
    console.print(f"{len(report.unreferenced)} unreferenced objects ({_human(report.reclaimable_bytes)}), "
                  f"{len(report.too_recent)} younger than the grace period kept, "
                  f"{len(report.live)} held by live runs kept"
                  + ("" if delete else "; rerun with --delete to remove them"))


SAMPLE_CONFIG = Path(__file__).parent / "configs" / "sample.yaml"
IMAGE_SAMPLE_CONFIG = Path(__file__).parent / "configs" / "image_sample.yaml"


def _print_summary(result, store) -> None:
    stats = result.stats
    counts = ("inputs", "kept", "rejected", "quarantined", "duplicates", "reconciles")
    table = _table("source", *counts, title=f"run {result.run_id} → {stats['dataset']}@{result.version}",
                   right=counts)
    for name, r in {**stats["sources"], "TOTAL": stats["totals"]}.items():
        table.add_row(name, f"{r['inputs']:,}", f"{r['kept']:,}", f"{r['rejected']:,}",
                      f"{r['quarantined']:,}", f"{r['duplicates']:,}",
                      "[green]yes[/]" if r["reconciles"] else "[red]NO[/]")
    console.print(table)
    for title, counts in (("rejected by reason", stats["rejected_by_reason"]),
                          ("quarantined by error", stats["quarantined_by_error"]),
                          ("PII findings by type", stats["pii_by_type"])):
        if counts:
            t = _table("what", "count", title=title, right=("count",))
            for k, v in counts.items():
                t.add_row(k, f"{v:,}")
            console.print(t)
    console.print(f"report: {store.url(result.report_key)}")


class UnknownOptionError(ValueError):
    """A ``kho ingest`` argument that neither Kho nor Beam knows (a typo, most often)."""


#: Where ``kho ingest`` keeps what followed a bare ``--`` (handed to Beam unchecked).
_PASSTHROUGH = "kho.beam_passthrough"


class BeamPassthroughCommand(TyperCommand):
    """A command whose arguments after a bare ``--`` go to Beam as they are, unchecked.

    Click would drop the ``--`` itself and mix what follows into the extra arguments, which
    are checked against Beam's options; this keeps the two apart."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_PASSTHROUGH] = list(args[cut + 1:])
            args = args[:cut]
        return super().parse_args(ctx, args)


def _beam_parser():
    """An argument parser of every option Beam's PipelineOptions knows, built as Beam builds
    its own (every registered options class, no abbreviations), that raises instead of exiting."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    class Parser(_BeamArgumentParser):
        def error(self, message: str):
            raise UnknownOptionError(f"bad Beam option: {message}")

    parser = Parser(allow_abbrev=False, add_help=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    return parser


def check_beam_args(args: list[str], own_options: Sequence[str] = (), command: str = "kho ingest",
                    positional: str = "one config file") -> list[str]:
    """Return ``args`` if Beam knows every option in them, else raise UnknownOptionError.

    The error names the closest valid option, Kho's (``own_options``) or Beam's: a typo such
    as ``--stor`` must not reach Beam, which would drop it with a warning and run the
    pipeline into the default store."""
    if not args:
        return []
    parser = _beam_parser()
    _, unknown = parser.parse_known_args(list(args))
    if not unknown:
        return list(args)
    options = [u for u in unknown if u.startswith("-")]
    if not options:
        raise UnknownOptionError(
            f"unexpected argument {unknown[0]!r}: {command} takes {positional}; "
            "options go as --name=value")
    name = options[0].split("=", 1)[0]
    known = list(own_options) + [o for a in parser._actions for o in a.option_strings]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "neither Kho nor Beam has it"
    raise UnknownOptionError(
        f"unknown option {name} ({hint}); `{command} --help` lists Kho's options, Beam's "
        "pipeline options pass through, and anything after a bare `--` goes to Beam unchecked")


def _beam_args_or_exit(ctx: typer.Context, **how: str) -> list[str]:
    """A passthrough command's Beam options: the checked extra arguments, then everything after
    a bare ``--``; an unknown option prints one error line and exits 2. ``how``: the
    ``command`` and ``positional`` words of :func:`check_beam_args`'s messages."""
    try:
        checked = check_beam_args(list(ctx.args), _own_options(ctx), **how)
    except UnknownOptionError as exc:
        err_console.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(2) from None
    return checked + ctx.meta.get(_PASSTHROUGH, [])


def _own_options(ctx: typer.Context) -> list[str]:
    return [o for p in ctx.command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")]


CreateBucketOpt = Annotated[bool, typer.Option(
    "--create-bucket", help="Create the store's S3 bucket if it does not exist "
                            "(once per store; see also `kho store init`). A local folder is always created.")]


def _ingest(config: Path, store_uri: str | None, beam_args: list[str], create_bucket: bool = False):
    from rich.progress import MofNCompleteColumn, SpinnerColumn, TimeElapsedColumn

    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest

    cfg = load_ingest_config(config)
    store = open_store(store_uri or cfg.store, create_bucket=create_bucket)
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


@app.command(cls=BeamPassthroughCommand,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ingest(ctx: typer.Context,
           config: Annotated[Path, typer.Argument(help="Ingest config (YAML); see pipelines/configs/sample.yaml.")],
           store: StoreOpt = None,
           create_bucket: CreateBucketOpt = False) -> None:
    """Run one ingest of the config's sources into its dataset and commit a new version.

    Extra options go to Beam: the local FnApiRunner by default, e.g.
    `--direct_running_mode=multi_processing --direct_num_workers=2`, or another runner's
    options unchanged (`--runner=FlinkRunner --flink_master=HOST:8081 ...`). Options that
    neither Kho nor Beam knows are errors (a typo like `--stor` would otherwise be dropped
    and the run would go to the default store); options for a runner's own plugins go after
    a bare `--`: `kho ingest my.yaml --runner=X -- --x_only_flag=1`.
    Inputs already ingested (the source's ledger) are skipped, so a rerun is idempotent.
    """
    _ingest(config, store, _beam_args_or_exit(ctx), create_bucket)


@app.command()
def crawl(config: Annotated[Path, typer.Argument(help="Crawl config (YAML); see docs/crawl.md.")],
          store: StoreOpt = None, create_bucket: CreateBucketOpt = False,
          as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False) -> None:
    """Crawl the config's seeds and sitemaps with Scrapy (robots.txt, per-host politeness, depth,
    page, byte and time bounds) into WARC parts in the store, fetching only pages that are new
    or changed since the last crawl. Ingest them with a source
    `{format: warc, paths: ["store:crawls/DATASET/SOURCE/warc/"]}`; see docs/crawl.md."""
    import json

    from pipelines.crawl.config import load_crawl_config
    from pipelines.crawl.run import run_crawl, summary_rows

    cfg = load_crawl_config(config)
    st = open_store(store or cfg.store, create_bucket=create_bucket)
    summary = run_crawl(config, st)
    if as_json:
        console.print(json.dumps(summary, indent=2, ensure_ascii=False), markup=False, highlight=False)
        return
    table = _table("what", "count", title=f"crawl {summary['crawl_id']} → {cfg.dataset}/{cfg.source}",
                   right=("count",))
    for what, value in summary_rows(summary):
        table.add_row(what, value)
    console.print(table)
    console.print(f"ingest with a source paths: [\"{summary['ingest_path']}\"]", markup=False)


@app.command()
def demo(store: StoreOpt = None, create_bucket: CreateBucketOpt = False,
         work: Annotated[Path, typer.Option(help="Where the generated image samples and demo CLIP "
                                            "weights are written (reused by later demos).")] = Path(".kho/demo"),
         image: Annotated[bool, typer.Option(help="Also run the image demo (about a minute on 2 cores).")] = True,
         ) -> None:
    """Ingest the bundled Vietnamese text sample and the generated image sample into the store,
    then verify both versions."""
    result, st = _ingest(SAMPLE_CONFIG, store, [], create_bucket)
    _verify_demo(st, "vi-text-sample")
    console.print("next: `kho datasets show vi-text-sample`, "
                  "`kho pull vi-text-sample ./demo-out --where \"lang_score >= 0.9\"`")
    if image:
        config = _prepare_image_demo(work)
        _ingest(config, store, [], create_bucket)
        _verify_demo(st, "vi-image-sample")
        console.print("next: `kho pull vi-image-sample ./demo-images --where \"faces >= 1\"` "
                      "(WebDataset tars with only the matching samples)")
    _print_review_hint(store)


def _print_review_hint(store: str | None) -> None:
    """How to judge the demo's runs in the review app (accounts first, then serve)."""
    flag = f" --store {store}" if store else ""
    console.print("review the demo runs in a browser:\n"
                  f"  kho review users add lead --role lead{flag}\n"
                  f"  kho review serve{flag}\n"
                  "  then open http://127.0.0.1:8765, pick a run, draw a queue and judge with keys 1/2/3",
                  markup=False, highlight=False)


def _verify_demo(st, dataset: str) -> None:
    from storage.verify import verify_version

    vs = VersionStore(st)
    m = vs.manifest(f"{dataset}@latest")
    report = verify_version(vs, m)
    if not report.ok:
        for key, problem in report.problems:
            err_console.print(f"[red]BAD[/] {key}: {problem}")
        raise typer.Exit(1)
    console.print(f"[green]verified[/] {dataset}@{m.version}: {report.shards_checked} shards, "
                  f"{m.total_rows:,} rows, merkle root {m.merkle_root[:16]}…")


def _prepare_image_demo(work: Path) -> Path:
    """Write the sample images, the demo CLIP weights (once) and the config into ``work``."""
    from pipelines.image.clip import make_test_weights
    from pipelines.image.samples import make_image_samples

    work.mkdir(parents=True, exist_ok=True)
    make_image_samples(work / "image-samples")
    import yaml

    weights = work / "models" / "clip-ViT-B-32-random-seed0.pt"
    digest = weights.with_suffix(".sha256")
    if not weights.exists() or not digest.exists():
        err_console.print("making demo CLIP weights (ViT-B-32, random init, seed 0; 600 MB, once)")
        weights.parent.mkdir(parents=True, exist_ok=True)
        sha = make_test_weights(weights.with_suffix(".tmp"), "ViT-B-32", 0)
        weights.with_suffix(".tmp").replace(weights)
        digest.write_text(sha)
    raw = yaml.safe_load(IMAGE_SAMPLE_CONFIG.read_text(encoding="utf-8"))
    raw["clip"]["weights_sha256"] = digest.read_text().strip()  # the report names the exact weights
    config = work / "image_sample.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


@store_app.command("init")
def store_init(store: StoreOpt = None) -> None:
    """Create the store: its bucket on S3 (`s3://BUCKET/PREFIX`), its folder locally.

    Safe to rerun: an existing bucket or folder is left as it is. Once a store exists, every
    command can use it; `kho ingest --create-bucket` does the same on the fly."""
    result = init_store(store)
    console.print(result.describe(), markup=False, highlight=False)


# -- kho sources: the sources registry (pipelines/sources/, docs/sources.md) ----------------
sources_app = typer.Typer(help="The sources registry (sources.yaml): the state of every source, "
                               "and the one step a scheduler runs per source.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
RegistryOpt = Annotated[Path, typer.Option("--registry", help="The sources registry (YAML); see docs/sources.md.")]


@sources_app.command("status")
def sources_status(registry: RegistryOpt = Path("sources.yaml"), store: StoreOpt = None,
                   as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False) -> None:
    """Per source: last crawl, last ingest run and version, inputs pending, the last run's
    kept / rejected / quarantined / duplicates, and failures (exit 0 either way: it reports)."""
    import json

    from pipelines.sources.registry import load_registry
    from pipelines.sources.status import registry_status

    rows = registry_status(load_registry(registry), open_store(store))
    if as_json:
        console.print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2, ensure_ascii=False),
                      markup=False, highlight=False)
        return
    counts = ("kept", "rejected", "quarantined", "duplicates")
    table = _table("source", "kind", "dataset", "schedule", "last crawl", "last run", "version",
                   "pending", *counts, "failures", title=f"sources in {registry}",
                   right=("pending", *counts))
    for r in rows:
        c = r.last_crawl
        crawl = ("-" if c is None else f"{c.crawl_id} (no summary)" if c.summary_missing
                 else f"{c.finished_at} · {c.pages_written} written")
        run = f"{r.last_run.run_id}" if r.last_run else "-"
        table.add_row(r.name, r.kind, r.dataset, r.schedule, crawl, run, r.last_version or "-",
                      "-" if r.pending is None else str(r.pending),
                      *("-" if v is None else f"{v:,}" for v in r.counts().values()),
                      Text("; ".join(r.failures), style="red") if r.failures else "-")
    console.print(table)
    for r in rows:
        for note in r.notes:
            console.print(f"{r.name}: {note}", markup=False, highlight=False)


@sources_app.command("run", cls=BeamPassthroughCommand,
                     context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sources_run(ctx: typer.Context,
                name: Annotated[str, typer.Argument(help="The source's name in the registry.")],
                registry: RegistryOpt = Path("sources.yaml"), store: StoreOpt = None) -> None:
    """Crawl (kind crawl), ingest and verify one source: the step a scheduler (CronJob, Airflow)
    runs. Exits non-zero when any step fails; safe to rerun (the ledgers skip what is done).

    Extra options go to the ingest's Beam pipeline, as with `kho ingest`: e.g.
    `kho sources run baomoi --runner=PortableRunner --job_endpoint=HOST:8099
    --environment_type=EXTERNAL --environment_config=localhost:50000` (deploy/runners/ has
    them as argv lists); unknown options are errors, and anything after a bare `--` goes to
    Beam unchecked."""
    from pipelines.config import load_ingest_config
    from pipelines.sources.registry import load_registry
    from pipelines.sources.run import run_source

    beam_args = _beam_args_or_exit(ctx, command="kho sources run", positional="one source name")
    reg = load_registry(registry)
    entry = reg.get(name)
    cfg = load_ingest_config(reg.path(entry.ingest))
    result = run_source(reg, name, open_store(store or cfg.store),
                        beam_args=beam_args)
    for step in result.steps:
        console.print(f"{name}: {step}", markup=False, highlight=False)


# -- kho plan capacity: the capacity planner (pipelines/capacity/, docs/capacity.md) -------
plan_app = typer.Typer(help="Plan the hardware before buying it: `kho plan capacity --petabytes 100`.",
                       no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _plan_default(field: str) -> str:
    from pipelines.capacity.model import CapacityInputs

    value = CapacityInputs.model_fields[field].get_default(call_default_factory=True)
    if isinstance(value, dict):
        value = ",".join(f"{k}={v:g}" for k, v in value.items())
    return f" [default: {value}]"


@plan_app.command("capacity", epilog=(
    "Example: `kho plan capacity --petabytes 100 --mix text=1,image=24,audio=25,video=50 "
    "--ec 12+4 --drive-tb 20 --ingest-tb-per-day 100 --json plan.json`. "
    "Units: PB and TB are decimal (10^15, 10^12 bytes, as drives are sold and as MinIO and "
    "Kubernetes count `20T`); the shard size is binary GiB (2^30), as output.target_shard_bytes. "
    "Every formula, and the 100 PB example, is in docs/capacity.md."))
def plan_capacity(
    petabytes: Annotated[float, typer.Option(help="Dataset bytes to hold (shards), decimal PB.")],
    mix: Annotated[Optional[str], typer.Option(help="Share of the bytes per modality, fractions or "
                   "percentages: text=1,image=24,audio=25,video=50 (unnamed: 0)." + _plan_default("mix"))] = None,
    record_kb: Annotated[Optional[str], typer.Option(help="Average record size per modality in kB (for the "
                         "record counts), e.g. video=80000; unnamed keep their default." + _plan_default("record_kb"))] = None,
    shard_gib: Annotated[Optional[float], typer.Option(help="Target shard size, GiB." + _plan_default("shard_gib"))] = None,
    ec: Annotated[Optional[str], typer.Option(help="Erasure code DATA+PARITY drives per set (2..16 drives, "
                  "parity <= data); 12+4 is MinIO's EC:4 on sets of 16. [default: 12+4]")] = None,
    drive_tb: Annotated[Optional[float], typer.Option(help="Drive size, decimal TB." + _plan_default("drive_tb"))] = None,
    drives_per_node: Annotated[Optional[int], typer.Option(help="Drives per server." + _plan_default("drives_per_node"))] = None,
    nodes_per_pool: Annotated[Optional[int], typer.Option(help="Servers per MinIO server pool (pool drives must "
                              "divide into erasure sets)." + _plan_default("nodes_per_pool"))] = None,
    fill: Annotated[Optional[float], typer.Option(help="Highest planned fill of usable capacity, never 1 "
                    "(healing, growth and the file system need room)." + _plan_default("fill"))] = None,
    run_tables: Annotated[Optional[float], typer.Option(help="Run tables kept (rejected, duplicates, "
                          "quarantine) as a fraction of dataset bytes." + _plan_default("run_table_fraction"))] = None,
    ingest_tb_per_day: Annotated[Optional[float], typer.Option(help="Dataset bytes ingested per day, decimal TB."
                                 + _plan_default("ingest_tb_per_day"))] = None,
    peak: Annotated[Optional[float], typer.Option(help="Peak over average ingest rate." + _plan_default("peak_factor"))] = None,
    rebuild_mb_s: Annotated[Optional[float], typer.Option(help="Heal throughput per rebuilt drive, decimal MB/s "
                            "(measure yours on the lab: deploy/minio)." + _plan_default("rebuild_mb_s"))] = None,
    nic_gbit: Annotated[Optional[float], typer.Option(help="Network per server, Gbit/s." + _plan_default("nic_gbit"))] = None,
    json_out: Annotated[Optional[str], typer.Option("--json", help="Write the plan as JSON to this file "
                        "(inputs and every figure, bytes as plain numbers); `--json -` prints it instead of the tables.")] = None,
) -> None:
    """Size a MinIO cluster for a dataset: objects, shard lists and manifests per modality,
    drives, nodes, server pools, raw capacity, ingest network and rebuild times.

    Each figure is printed with its formula (the symbols of docs/capacity.md), so a number
    can be checked by hand. deploy/minio/tenant.yaml is the default 100 PB plan."""
    from pipelines.capacity import CapacityInputError, build_inputs, plan
    from pipelines.capacity.report import sections

    try:
        p = plan(build_inputs(petabytes=petabytes, mix=mix, record_kb=record_kb, shard_gib=shard_gib, ec=ec,
                              drive_tb=drive_tb, drives_per_node=drives_per_node, nodes_per_pool=nodes_per_pool,
                              fill=fill, run_table_fraction=run_tables, ingest_tb_per_day=ingest_tb_per_day,
                              peak_factor=peak, rebuild_mb_s=rebuild_mb_s, nic_gbit=nic_gbit))
    except CapacityInputError as exc:
        err_console.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(2) from None
    text = p.model_dump_json(indent=2)
    if json_out == "-":
        sys.stdout.write(text + "\n")
        return
    for s in sections(p):
        table = _table(*s.headers, title=s.title, right=tuple(h for h in s.headers[1:] if h != "formula"))
        for row in s.rows:
            table.add_row(*(Text(c) for c in row))
        console.print(table)
    for warning in p.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning), soft_wrap=True)
    if json_out:
        Path(json_out).write_text(text + "\n", encoding="utf-8")
        console.print(f"plan written to {json_out}", markup=False, highlight=False)


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
        _exit(2)
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            err_console.print(str(code), soft_wrap=True)
            code = 1
        _exit(code or 0)
    _exit(0)


def _exit(code: int) -> None:
    """Leave without running C++ static destructors.

    pyarrow 25's thread pools abort the process at interpreter teardown now and then
    ("terminate called without an active exception", exit 134; about 1 run in 7 of a script
    that only reads one Parquet file, on this machine), which would turn a successful command
    into a failure for a scheduler. Every file Kho writes is closed (and locally fsynced)
    before this point, so the CLI flushes its streams and ends the process directly."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
