"""``kho review``: serve the annotators' web app and manage its accounts.

Only Typer is imported here; the web stack (FastAPI, SQLAlchemy, argon2) loads when a review
command runs, so the rest of ``kho`` starts fast and works without the review extra.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    help=("The annotators' review app: sample what a run kept and dropped, judge it in a browser, "
          "and measure each filter's precision.\n\n"
          "  kho review users add alice --role lead     # once: a lead account\n\n"
          "  kho review users add bao --role annotator\n\n"
          "  kho review serve                           # then open http://127.0.0.1:8765\n\n"
          "The review database is a SQLite file beside a local store (review.sqlite) unless --db "
          "gives a SQLAlchemy URL (postgresql+psycopg://USER@HOST/DB)."),
    no_args_is_help=True)
users_app = typer.Typer(help="Add, list, reset and deactivate review accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")

StoreOpt = Annotated[Optional[str], typer.Option(
    "--store", envvar="KHO_STORE", help="Object store whose runs are reviewed: PATH, file://PATH or s3://BUCKET/PREFIX.")]
DbOpt = Annotated[Optional[str], typer.Option(
    "--db", envvar="KHO_REVIEW_DB", help="Review database URL (default: sqlite file beside the store).")]
PasswordStdinOpt = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin (scripts); else it is prompted.")]
PasswordFileOpt = Annotated[Optional[Path], typer.Option(
    "--password-file", help="Read the password from the first line of this file (keep it mode 600).")]


def _store(store: str | None):
    from storage.uri import open_store

    return open_store(store)


def _db(store_uri: str, db: str | None):
    from review.db import ReviewDB, default_db_url

    database = ReviewDB(db or default_db_url(store_uri))
    database.create_all()
    return database


def _store_and_db(store: str | None, db: str | None):
    from storage.uri import DEFAULT_STORE

    return _store(store), _db(store or DEFAULT_STORE, db)


def _password(from_stdin: bool, from_file: Path | None = None) -> str:
    if from_file is not None:
        try:
            lines = from_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise typer.BadParameter(f"--password-file: cannot read {from_file} ({exc.strerror})") from None
        if not lines:
            raise typer.BadParameter(f"--password-file: {from_file} is empty; write the password on its first line")
        return lines[0]
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise typer.BadParameter("--password-stdin: stdin was empty; pipe the password in")
        return line.rstrip("\r\n")
    return typer.prompt("password (10 characters at least)", hide_input=True, confirmation_prompt=True)


@app.command()
def serve(store: StoreOpt = None, db: DbOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on; not loopback needs TLS or --allow-insecure-remote.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
          tls_cert: Annotated[Optional[Path], typer.Option(help="TLS certificate (PEM) for HTTPS.")] = None,
          tls_key: Annotated[Optional[Path], typer.Option(help="Its private key (PEM).")] = None,
          allow_insecure_remote: Annotated[bool, typer.Option(
              help="Listen on a non-loopback address without TLS (only behind a TLS proxy).")] = False,
          ) -> None:
    """Serve the review app on the store's runs until Ctrl-C."""
    from review.serve import check_bind
    from review.serve import serve as run
    from review.settings import ReviewSettings

    settings = ReviewSettings(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                              allow_insecure_remote=allow_insecure_remote)
    check_bind(settings)
    st, database = _store_and_db(store, db)
    scheme = "https" if settings.tls else "http"
    typer.echo(f"review app: {scheme}://{host}:{port}  (store {st.uri}, database {database.url}; Ctrl-C stops)")
    run(st, database, settings)


@users_app.command("add")
def users_add(name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
              role: Annotated[str, typer.Option(help="annotator or lead (leads draw queues, see the dashboard, export).")] = "annotator",
              password_stdin: PasswordStdinOpt = False, password_file: PasswordFileOpt = None,
              store: StoreOpt = None, db: DbOpt = None) -> None:
    """Add an account; the password is stored only as an argon2id hash."""
    from review.users import add_user

    _, database = _store_and_db(store, db)
    user = add_user(database, name, role, _password(password_stdin, password_file))
    typer.echo(f"added {user.name} ({user.role})")


@users_app.command("list")
def users_list(store: StoreOpt = None, db: DbOpt = None) -> None:
    """List the accounts, their roles and whether they may log in."""
    from review.users import list_users

    _, database = _store_and_db(store, db)
    for user in list_users(database):
        typer.echo(f"{user.name}\t{user.role}\t{'active' if user.active else 'deactivated'}")


@users_app.command("passwd")
def users_passwd(name: Annotated[str, typer.Argument(help="The account.")], password_stdin: PasswordStdinOpt = False,
                 password_file: PasswordFileOpt = None, store: StoreOpt = None, db: DbOpt = None) -> None:
    """Set a new password (ends the account's sessions)."""
    from review.users import set_password

    _, database = _store_and_db(store, db)
    set_password(database, name, _password(password_stdin, password_file))
    typer.echo(f"password of {name} replaced; its sessions ended")


@users_app.command("deactivate")
def users_deactivate(name: Annotated[str, typer.Argument(help="The account.")], store: StoreOpt = None,
                     db: DbOpt = None) -> None:
    """Refuse the account's logins from now on; its judgements stay in the figures."""
    from review.users import deactivate

    _, database = _store_and_db(store, db)
    deactivate(database, name)
    typer.echo(f"{name} deactivated")
