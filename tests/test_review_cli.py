"""``kho review``: accounts from the command line and a server that refuses to listen in clear
text on a network address. Through typer's CliRunner on the real ``kho`` app, and through the
installed ``kho`` console script where the one-line error of ``main()`` is what is checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from review.db import ReviewDB
from review.users import UserError, authenticate

KHO = Path(sys.executable).parent / "kho"
PASSWORD = "long-enough-pw"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store and database come from the options only, never from the caller's shell."""
    for var in ("KHO_STORE", "KHO_REVIEW_DB", "KHO_DEBUG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def kho(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KHO_STORE", "KHO_REVIEW_DB", "KHO_DEBUG")}
    return subprocess.run([str(KHO), *args], input=input, capture_output=True, text=True, timeout=60, env=env)


def test_users_add_with_password_stdin_adds_the_user_and_list_shows_it(store: Path, tmp_path: Path) -> None:
    result = invoke("review", "users", "add", "alice", "--role", "lead", "--password-stdin", "--store", str(store),
                    input=f"{PASSWORD}\n")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "added alice (lead)" in result.output
    assert PASSWORD not in result.output
    result = invoke("review", "users", "add", "bao", "--password-stdin", "--store", str(store), input=f"{PASSWORD}\r\n")
    assert result.exit_code == 0, result.output
    listed = invoke("review", "users", "list", "--store", str(store))
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert "alice\tlead\tactive" in lines and "bao\tannotator\tactive" in lines
    # the default database is review.sqlite beside the store, and the password works there
    db_file = tmp_path / "review.sqlite"
    assert db_file.exists()
    db = ReviewDB(f"sqlite:///{db_file}")
    try:
        assert authenticate(db, "alice", PASSWORD) is not None
        assert authenticate(db, "bao", PASSWORD) is not None  # the line ending is not part of it
        assert authenticate(db, "alice", PASSWORD + "\n") is None
    finally:
        db.dispose()


def test_users_add_with_a_db_url_writes_there(store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/elsewhere.sqlite"
    result = invoke("review", "users", "add", "alice", "--password-stdin", "--store", str(store), "--db", url,
                    input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere.sqlite").exists() and not (tmp_path / "review.sqlite").exists()
    assert "alice\tannotator" in invoke("review", "users", "list", "--store", str(store), "--db", url).output


def test_a_short_password_is_refused_with_a_message_about_ten_characters(store: Path) -> None:
    result = invoke("review", "users", "add", "alice", "--role", "lead", "--password-stdin", "--store", str(store),
                    input="short\n")
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError) and "10 characters" in str(result.exception)
    assert "alice" not in invoke("review", "users", "list", "--store", str(store)).output
    # the console script prints it as one line, exit 2
    done = kho("review", "users", "add", "alice", "--password-stdin", "--store", str(store), input="short\n")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "10 characters" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_an_empty_stdin_is_refused(store: Path) -> None:
    result = invoke("review", "users", "add", "alice", "--password-stdin", "--store", str(store), input="")
    assert result.exit_code != 0
    assert "stdin was empty" in result.output + str(result.exception)


def test_an_unknown_role_is_refused(store: Path) -> None:
    result = invoke("review", "users", "add", "alice", "--role", "boss", "--password-stdin", "--store", str(store),
                    input=f"{PASSWORD}\n")
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError) and "invalid role 'boss'" in str(result.exception)
    assert "annotator, lead" in str(result.exception)
    assert "alice" not in invoke("review", "users", "list", "--store", str(store)).output


def test_serve_on_a_network_address_without_tls_exits_at_once_with_the_tls_message(
        store: Path, tmp_path: Path) -> None:
    result = invoke("review", "serve", "--host", "0.0.0.0", "--store", str(store))
    assert result.exit_code != 0
    message = str(result.exception)
    assert "--tls-cert" in message and "--allow-insecure-remote" in message
    # the real console script: one line on stderr, exit 2, well within the timeout (no server started)
    done = kho("review", "serve", "--host", "0.0.0.0", "--port", "18765", "--store", str(store))
    assert done.returncode == 2
    assert done.stderr.startswith("error: refusing to listen on 0.0.0.0 without TLS")
    assert "--tls-cert" in done.stderr and "--allow-insecure-remote" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "review app:" not in done.stdout  # it never announced a server
    assert not (tmp_path / "review.sqlite").exists()  # refused before it opened anything


def test_serve_refuses_half_a_tls_pair(store: Path, tmp_path: Path) -> None:
    result = invoke("review", "serve", "--host", "0.0.0.0", "--tls-cert", str(tmp_path / "c.pem"),
                    "--store", str(store))
    assert result.exit_code != 0
    assert "--tls-key" in str(result.exception)


def test_kho_review_help_lists_serve_and_users() -> None:
    result = invoke("review", "--help")
    assert result.exit_code == 0
    assert "serve" in result.output and "users" in result.output
    users = invoke("review", "users", "--help")
    assert users.exit_code == 0
    for command in ("add", "list", "passwd", "deactivate"):
        assert command in users.output
    done = kho("review", "--help")
    assert done.returncode == 0 and "serve" in done.stdout and "users" in done.stdout
