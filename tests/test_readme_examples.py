"""Every command the README's "Using it" section shows runs, in order, as a user would run it.

The ``kho ...`` lines of its ```sh blocks run as subprocesses (the real entry point, no
terminal) in a scratch folder, against a fresh local store built by ``kho demo`` (KHO_STORE),
with two substitutions: ``pipelines/configs/sample.yaml`` is the bundled sample config, and
``my.yaml`` ("a config of yours with new sources") a config with three new documents for
vi-text-sample. Lines the README marks with ``# needs ...`` (a cluster) are skipped with that
reason. The ```python block runs too, in the same folder: its ``.kho/store`` is that store.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SAMPLE_CONFIG = REPO / "pipelines" / "configs" / "sample.yaml"
#: Shell lines of the section that are not kho commands and need not run here.
SETUP_LINES = {". .venv/bin/activate"}


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


@dataclass(frozen=True)
class Line:
    command: str      # without its comment
    comment: str

    @property
    def needs(self) -> str | None:
        """What the README says this line needs that a test machine lacks ("a Flink cluster")."""
        found = re.match(r"needs\b(.*)", self.comment)
        return f"needs{found.group(1)}" if found else None


def readme_lines() -> list[Line]:
    section = _section(README.read_text(encoding="utf-8"), "Using it")
    lines = []
    for block in _blocks(section, "sh"):
        for raw in block.splitlines():
            if not raw.strip():
                continue
            command, _, comment = raw.partition("  #")
            lines.append(Line(command.strip(), comment.strip().lstrip("#").strip()))
    return lines


LINES = readme_lines()


def _fresh_docs() -> list[dict]:
    """Three documents no sample version holds: sentences of the sample news, recombined."""
    from pipelines.sample_data.make_sample import NEWS

    firsts = [re.split(r"(?<=\.) ", body.split("\n\n")[0]) for _, body in NEWS]
    seconds = [body.split("\n\n")[1] for _, body in NEWS]
    docs = []
    for k in range(3):
        parts = [s[(k + i) % len(s)] for i, s in enumerate(firsts)]
        text = " ".join(parts) + "\n\n" + seconds[(k + 3) % len(seconds)]
        docs.append({"id": f"readme-{k}", "text": text})
    return docs


@dataclass
class Session:
    """The scratch folder and store the README's lines share, run in order on demand."""

    cwd: Path
    env: dict[str, str]
    done: dict[int, subprocess.CompletedProcess] = field(default_factory=dict)

    def kho(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=600)

    def argv(self, line: Line) -> list[str]:
        subs = {"pipelines/configs/sample.yaml": str(SAMPLE_CONFIG), "my.yaml": str(self.cwd / "my.yaml")}
        return [subs.get(a, a) for a in shlex.split(line.command)[1:]]

    def run_through(self, n: int) -> subprocess.CompletedProcess | None:
        """Run lines 0..n not yet run (a test picked alone still gets its predecessors)."""
        for i in range(n + 1):
            line = LINES[i]
            if i in self.done or line.needs or line.command in SETUP_LINES:
                continue
            self.done[i] = result = self.kho(self.argv(line))
            if i < n and result.returncode != 0:
                pytest.fail(f"an earlier README line failed: {line.command}\n{result.stderr}")
        return self.done.get(n)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    cwd = tmp_path_factory.mktemp("readme")
    store = cwd / ".kho" / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KHO_", "AWS_"))}
    env.update(KHO_STORE=str(store), PYTHONPATH=str(REPO), COLUMNS="60")  # COLUMNS: no tty wins
    (cwd / "new.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _fresh_docs()),
                                   encoding="utf-8")
    for name in ("lead", "bao"):  # the review accounts' password files
        (cwd / f"{name}.pw").write_text(f"{name}-readme-password\n", encoding="utf-8")
    (cwd / "my.yaml").write_text("dataset: vi-text-sample\nsources:\n  - name: news-2026-11\n"
                                 "    format: jsonl\n    paths: [new.jsonl]\n    license: CC-BY-4.0\n")
    s = Session(cwd, env)
    demo = s.kho(["demo"])
    assert demo.returncode == 0, demo.stderr
    return s


def test_readme_section_has_the_commands_it_promises() -> None:
    commands = [line.command for line in LINES]
    assert any(c.startswith("kho ingest") for c in commands) and any(c.startswith("kho pull") for c in commands)
    for line in LINES:
        assert line.command.startswith("kho ") or line.command in SETUP_LINES, (
            f"README line {line.command!r} is neither a kho command nor known setup: "
            "teach tests/test_readme_examples.py how to run it")


@pytest.mark.slow
@pytest.mark.parametrize("n", range(len(LINES)), ids=[line.command for line in LINES])
def test_readme_command_runs(session: Session, n: int) -> None:
    line = LINES[n]
    if line.command in SETUP_LINES:
        pytest.skip(f"setup, not a kho command: {line.command}")
    if line.needs:
        from pipelines.cli import check_beam_args

        check_beam_args([a for a in session.argv(line)[1:] if a.startswith("--")])  # options still valid
        pytest.skip(f"the README marks it: {line.needs}")
    result = session.run_through(n)
    assert result.returncode == 0, f"{line.command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
def test_readme_commands_did_what_they_say(session: Session) -> None:
    session.run_through(len(LINES) - 1)
    out = {LINES[i].command: r.stdout for i, r in session.done.items()}
    show = next(v for k, v in out.items() if k.startswith("kho datasets show"))
    assert "news-2026-11" in show and "sample-news" in show  # v2's own source and v1's
    pull = next(v for k, v in out.items() if k.startswith("kho pull"))
    assert re.search(r"[1-9][\d,]* rows in data", pull), pull
    assert (session.cwd / "data").is_dir()
    users = next(v for k, v in out.items() if k.startswith("kho review users list"))
    assert re.search(r"^lead\tlead\tactive$", users, re.M) and re.search(r"^bao\tannotator\tactive$", users, re.M)


@pytest.mark.slow
def test_readme_python_example_runs(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = _blocks(README.read_text(encoding="utf-8"), "python")
    monkeypatch.chdir(session.cwd)  # the block's ".kho/store" is the demo's store
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["table"].column_names == ["id", "text", "signals"]
    urls = namespace["urls"]
    assert urls and all(Path(u).exists() and u.endswith(".parquet") for u in urls)
    assert namespace["image_urls"] and all(u.endswith(".tar") for u in namespace["image_urls"])
    sample = namespace["sample"]
    assert {"__key__", "jpg", "txt", "json"} <= set(sample) and sample["jpg"][:2] == b"\xff\xd8"


def test_shard_urls_picks_the_format_of_the_shards(tmp_path: Path) -> None:
    import pyarrow as pa

    from storage.api import shard_urls
    from storage.local import LocalStore
    from storage.shards import ParquetShardWriter
    from storage.versions import VersionStore, shard_prefix

    store = LocalStore(tmp_path / "s")
    w = ParquetShardWriter(store, shard_prefix("t", "text", "r1"), pa.schema([("id", pa.string())]),
                           modality="text")
    w.write_rows([{"id": "a"}])
    VersionStore(store).commit("t", w.close(), code_version="test", run_id="r1")
    assert len(shard_urls(store, "t")) == 1  # was [] (the default format was webdataset)
    assert shard_urls(store, "t", fmt="webdataset") == []
