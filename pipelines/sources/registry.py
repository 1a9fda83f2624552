"""The sources registry: one ``sources.yaml`` listing every source a team collects, with
its kind, its ingest (and crawl) config, its cron schedule, its owner and its license.

The registry only points at configs; it never repeats what they say. :func:`load_registry`
validates the file (unknown keys are errors), resolves the config paths against the
registry's folder and checks that each source's configs exist and name its dataset, so a
typo is caught when the registry is read, not at 3 a.m. in a scheduled run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.config import ConfigError, read_yaml, validate_model

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

#: (lowest, highest) of each cron field: minute, hour, day of month, month, day of week.
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_CRON_NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
               4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_CRON_MACROS = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}


class RegistryError(ConfigError):
    """The registry, or a config it points at, is wrong; the message names the key or file."""


def _cron_value(token: str, index: int) -> int:
    """One cron number (or month/day name) of field ``index``, checked against its range."""
    names = _CRON_NAMES.get(index)
    if names and token.lower() in names:
        return names.index(token.lower()) + (1 if index == 3 else 0)
    if not token.isdigit():
        raise ValueError(f"{_CRON_FIELDS[index]} field: {token!r} is not a number")
    value, (lo, hi) = int(token), _CRON_RANGES[index]
    if not lo <= value <= hi:
        raise ValueError(f"{_CRON_FIELDS[index]} field: {value} is outside {lo}-{hi}")
    return value


def check_cron(expr: str) -> str:
    """Validate a standard 5-field cron expression (``*``, lists, ranges, ``/step``, month
    and weekday names) or an ``@daily``-style macro; return it stripped.

    Kubernetes CronJobs and Airflow both take this form, so one check serves either."""
    expr = expr.strip()
    if expr in _CRON_MACROS:
        return expr
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expr!r} has {len(fields)} fields; it needs 5 "
                         "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *'")
    for index, field in enumerate(fields):
        for item in field.split(","):
            base, _, step = item.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ValueError(f"{_CRON_FIELDS[index]} field: step {step!r} must be a positive number")
            if base == "*":
                continue
            lo, dash, hi = base.partition("-")
            low = _cron_value(lo, index)
            if dash and _cron_value(hi, index) < low:
                raise ValueError(f"{_CRON_FIELDS[index]} field: range {base!r} runs backwards")
    return expr


class SourceEntry(BaseModel):
    """One registered source: where its configs are and when and by whom it is collected."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME, description="Unique name; `kho sources run NAME` uses it.")
    kind: Literal["crawl", "files", "list"] = Field(description=(
        "crawl: `kho crawl` then ingest of its WARCs; files: ingest of files someone drops; "
        "list: ingest of a URL list (e.g. an image list)."))
    dataset: str = Field(pattern=_NAME, description="The dataset its ingest config writes.")
    ingest: Path = Field(description="Ingest config, relative to the registry file.")
    crawl: Path | None = Field(None, description="Crawl config (kind crawl only), relative to the registry.")
    schedule: str = Field(description="When to run it: a 5-field cron expression, in UTC.")
    owner: str = Field(min_length=1, description="Who to ask about it (a person or team, an e-mail).")
    license: str = Field(min_length=1, description="The license of what it collects (SPDX id).")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @model_validator(mode="after")
    def _crawl_config_for_crawls(self) -> SourceEntry:
        if self.kind == "crawl" and self.crawl is None:
            raise ValueError(f"source {self.name!r} is of kind crawl: give its crawl config as "
                             "`crawl: PATH` (relative to the registry)")
        if self.kind != "crawl" and self.crawl is not None:
            raise ValueError(f"source {self.name!r} has a crawl config but is of kind {self.kind}; "
                             "set `kind: crawl` or drop `crawl:`")
        return self


class Registry(BaseModel):
    """The whole ``sources.yaml``. ``base_dir`` (the file's folder) resolves config paths."""

    model_config = ConfigDict(extra="forbid")

    sources: list[SourceEntry] = Field(min_length=1)
    base_dir: Path = Field(Path("."), exclude=True)

    @field_validator("sources")
    @classmethod
    def _unique(cls, sources: list[SourceEntry]) -> list[SourceEntry]:
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return sources

    def path(self, relative: Path) -> Path:
        """A config path of the registry, resolved against the registry's folder."""
        return relative if relative.is_absolute() else (self.base_dir / relative).resolve()

    def get(self, name: str) -> SourceEntry:
        """The source called ``name``; RegistryError lists the names there are."""
        for s in self.sources:
            if s.name == name:
                return s
        raise RegistryError(f"no source {name!r} in the registry; it has: "
                            f"{', '.join(s.name for s in self.sources)}")


def load_registry(path: str | Path, *, check_configs: bool = True) -> Registry:
    """Read and validate a registry; with ``check_configs``, also load every ingest and
    crawl config it names and check that they exist, are valid and write its dataset."""
    path = Path(path)
    raw = read_yaml(path)
    if isinstance(raw, dict) and "base_dir" in raw:
        raise RegistryError(f"invalid registry {path}: unknown key 'base_dir'")
    try:
        reg = validate_model(Registry, raw, str(path))
    except ConfigError as exc:
        raise RegistryError(str(exc)) from None
    reg.base_dir = path.resolve().parent
    if check_configs:
        for entry in reg.sources:
            check_entry(reg, entry, path)
    return reg


def check_entry(reg: Registry, entry: SourceEntry, registry_path: Path | str = "sources.yaml") -> None:
    """Load a source's configs; RegistryError names the source, the key and the file when
    one is missing, invalid, or writes another dataset than the registry says."""
    from pipelines.config import load_ingest_config
    from pipelines.crawl.config import load_crawl_config

    where = f"{registry_path}: source {entry.name!r}"
    ingest_path = reg.path(entry.ingest)
    if not ingest_path.is_file():
        raise RegistryError(f"{where}: ingest config {ingest_path} (key `ingest`) does not exist")
    try:
        cfg = load_ingest_config(ingest_path)
    except ConfigError as exc:
        raise RegistryError(f"{where}: its ingest config is invalid:\n{exc}") from None
    if cfg.dataset != entry.dataset:
        raise RegistryError(f"{where}: `dataset: {entry.dataset}` but its ingest config "
                            f"{ingest_path} writes dataset {cfg.dataset!r}; make them agree")
    if entry.crawl is not None:
        crawl_path = reg.path(entry.crawl)
        if not crawl_path.is_file():
            raise RegistryError(f"{where}: crawl config {crawl_path} (key `crawl`) does not exist")
        try:
            ccfg = load_crawl_config(crawl_path)
        except ConfigError as exc:
            raise RegistryError(f"{where}: its crawl config is invalid:\n{exc}") from None
        if ccfg.dataset != entry.dataset:
            raise RegistryError(f"{where}: `dataset: {entry.dataset}` but its crawl config "
                                f"{crawl_path} crawls for dataset {ccfg.dataset!r}; make them agree")
        if ccfg.source not in {s.name for s in cfg.sources}:
            raise RegistryError(f"{where}: its crawl config writes source {ccfg.source!r}, which its "
                                f"ingest config {ingest_path} does not read; add a source "
                                f"{{name: {ccfg.source}, format: warc, paths: "
                                f"[\"store:crawls/{ccfg.dataset}/{ccfg.source}/warc/\"]}}")


