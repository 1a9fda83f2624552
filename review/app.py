"""The review web app: FastAPI routes over the store's runs and the review database.

Pages are rendered on the server (Jinja2, autoescaped); ``static/review.js`` adds the
keyboard (1/2/3 judge, n/p step, c comment) and swaps items in place through the JSON
routes under ``/api``. Every route but ``/login`` and ``/static`` needs a session; lead
pages (drawing queues, the dashboard, exports) need the lead role; every POST needs the
session's CSRF token. Media come from the store only through references stored with an
item when its queue was drawn, and only if the key lies inside that run's own tables or
its dataset's shards: nothing in a request names a path.

``create_app(store, db, settings)`` builds the app; ``review.serve`` runs it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from review import auth
from review.db import LABELS, ReviewDB
from review.export import export_parquet, label_studio_json
from review.metrics import dashboard
from review.runs import (RAW_MEDIA, MediaError, MediaRef, ReviewError, RunData, RunNotFoundError, allowed_keys,
                         is_run_key, list_runs, load_run, read_media)
from review.sampling import available_queues
from review.service import (ItemNotFoundError, ItemView, NotAssignedError, QueueError, QueueNotFoundError,
                            create_queue, get_item, get_queue, judge, list_queues, next_item, previous_item, queue_progress)
from review.settings import ReviewSettings
from review.viewers import RAW_FIELDS, ViewContext, ViewItem, render_item
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError, StoreError

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'{extra}; "
       "media-src 'self'{extra}; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class JudgementIn(BaseModel):
    """The body of ``POST /api/items/{id}/judgement``."""

    model_config = ConfigDict(extra="forbid")

    label: int
    comment: str | None = None


class NeedLogin(Exception):
    """Raised by a page route without a session: the handler redirects to the login page."""


@dataclass
class _Runs:
    """Runs opened for this app, and the keys each may stream (read once per run)."""

    store: ObjectStore

    def __post_init__(self) -> None:
        self._runs: dict[str, RunData] = {}
        self._keys: dict[str, set[str]] = {}

    def get(self, run_id: str) -> RunData:
        if run_id not in self._runs:
            self._runs[run_id] = load_run(self.store, run_id)
        return self._runs[run_id]

    def may_stream(self, run_id: str, dataset: str, key: str) -> bool:
        if not is_run_key(run_id, dataset, key):
            return False
        if key not in self._keys.get(run_id, set()):
            self._keys[run_id] = allowed_keys(self.get(run_id))
        return key in self._keys[run_id]


def create_app(store: ObjectStore, db: ReviewDB, settings: ReviewSettings | None = None) -> FastAPI:
    """The review app on one store and one review database (tables created if missing)."""
    settings = settings or ReviewSettings()
    db.create_all()
    app = FastAPI(title="Kho review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.db, app.state.settings = store, db, settings
    runs = _Runs(store)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    presign_origin = _presign_origin(store)
    csp = CSP.format(extra=f" {presign_origin}" if presign_origin else "")

    # -- plumbing -------------------------------------------------------------------------
    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def current(request: Request) -> auth.SessionInfo | None:
        return auth.session_info(db, request.cookies.get(auth.SESSION_COOKIE))

    def page_user(request: Request, lead: bool = False) -> auth.SessionInfo:
        user = current(request)
        if user is None:
            raise NeedLogin()
        if lead and not user.is_lead:
            raise HTTPException(403, "this page is for leads: ask a lead for what you need")
        return user

    def api_user(request: Request, lead: bool = False) -> auth.SessionInfo:
        user = current(request)
        if user is None:
            raise HTTPException(401, "not logged in: log in again")
        if lead and not user.is_lead:
            raise HTTPException(403, "only leads may do this")
        return user

    def check_csrf(user: auth.SessionInfo, given: str | None) -> None:
        if not auth.tokens_match(user.csrf_token, given):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")

    def render(request: Request, template: str, user: auth.SessionInfo | None, status: int = 200,
               **values: Any) -> HTMLResponse:
        context = {"user": user, "csrf_token": user.csrf_token if user else "", "messages": [], **values}
        return templates.TemplateResponse(request, template, context, status_code=status)

    def open_run(run_id: str) -> RunData:
        try:
            return runs.get(run_id)
        except RunNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.exception_handler(NeedLogin)
    async def to_login(request: Request, _exc: NeedLogin):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(MediaError)
    async def bad_reference(request: Request, exc: MediaError):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return await http_error(request, StarletteHTTPException(
            404, "this item's stored media reference is invalid: a lead can draw the queue again"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith(("/api/", "/media/")) or "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        titles = {401: "Log in first", 403: "Not allowed", 404: "Not found", 429: "Too many tries"}
        response = render(request, "error.html", current(request), status=exc.status_code, code=exc.status_code,
                          title=titles.get(exc.status_code, "Error"), detail=exc.detail)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    # -- login ----------------------------------------------------------------------------
    def login_page(request: Request, next_url: str, error: str = "", name: str = "",
                   status: int = 200) -> HTMLResponse:
        token = auth.new_token()
        response = render(request, "login.html", None, status=status, login_csrf=token, next_url=next_url,
                          error=error, name=name)
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=settings.cookies_secure, max_age=3600, path="/login")
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/"):
        return login_page(request, _safe_next(next))

    @app.post("/login")
    def login_submit(request: Request, name: str = Form(""), password: str = Form(""),
                     csrf_token: str = Form(""), next: str = Form("/")):
        target = _safe_next(next)
        if not auth.tokens_match(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf_token):
            return login_page(request, target, "the login form expired: try again", name, status=403)
        try:
            opened = auth.login(db, name, password, client_ip(request), settings.login_rate,
                                settings.session_ttl_s)
        except auth.LoginRateLimited as exc:
            response = login_page(request, target, str(exc), name, status=429)
            response.headers["Retry-After"] = "60"
            return response
        if opened is None:
            return login_page(request, target, "wrong name or password", name, status=401)
        token, _ = opened
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="strict",
                            secure=settings.cookies_secure, max_age=settings.session_ttl_s, path="/")
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")):
        user = page_user(request)
        check_csrf(user, csrf_token)
        auth.logout(db, request.cookies.get(auth.SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    # -- runs and queues ------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request):
        user = page_user(request)
        return render(request, "runs.html", user, runs=list_runs(store), store_uri=store.uri)

    def run_page(request: Request, user: auth.SessionInfo, run: RunData, messages: list[str],
                 status: int = 200) -> HTMLResponse:
        rows = []
        for q in list_queues(db, run.run_id):
            progress = queue_progress(db, q.id, user.user_id)
            rows.append({**asdict(q), "total": q.items, "judged": progress["judged"],
                         "assigned": progress["total"]})
        return render(request, "run.html", user, status=status, run=run, queues=rows,
                      queue_names=available_queues(run), defaults=settings, messages=messages)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_view(request: Request, run_id: str):
        user = page_user(request)
        return run_page(request, user, open_run(run_id), [])

    @app.post("/runs/{run_id}/queues")
    def draw_queue(request: Request, run_id: str, name: str = Form(...), per_queue: int = Form(...),
                   seed: int = Form(...), double_share: float = Form(...), csrf_token: str = Form("")):
        user = page_user(request, lead=True)
        check_csrf(user, csrf_token)
        run = open_run(run_id)
        try:
            queue_id = create_queue(db, run, name, per_queue, seed, double_share)
        except QueueError as exc:
            return run_page(request, user, run, [str(exc)], status=400)
        return RedirectResponse(f"/queues/{queue_id}", status_code=303)

    def queue_info(queue_id: int):
        try:
            return get_queue(db, queue_id)
        except QueueNotFoundError as exc:
            raise HTTPException(404, f"{exc}") from None

    def view_payload(request: Request, user: auth.SessionInfo, view: ItemView | None, queue_id: int) -> dict:
        progress = queue_progress(db, queue_id, user.user_id)
        if view is None:
            done = templates.get_template("done.html").render()
            return {"html": None, "done_html": done, "progress": progress}
        return {"html": str(item_html(request, user, view)), "item_id": view.item_id,
                "position": view.position, "label": view.label, "comment": view.comment, "progress": progress}

    def item_html(request: Request, user: auth.SessionInfo, view: ItemView) -> Markup:
        """The whole item article (what the JSON routes hand to review.js)."""
        ctx = {"view": _ViewModel(view, item_html_inner(user, view))}
        return Markup(templates.get_template("item.html").render(**ctx))

    def view_context(user: auth.SessionInfo, view: ItemView) -> ViewContext:
        raw, truncated = None, False
        ref = view.item.media.get(RAW_MEDIA)
        if user.is_lead and ref is not None:
            try:
                data = read_media(store, ref)
                raw, truncated = data[:settings.raw_preview_bytes], len(data) > settings.raw_preview_bytes
            except (MediaError, StoreError) as exc:
                log.warning("raw preview of item %d unavailable: %s", view.item_id, exc)
        return ViewContext(env=templates.env, role=user.role, raw_preview=raw, raw_truncated=truncated)

    def pick(queue_id: int, user: auth.SessionInfo, after: int | None = None, before: int | None = None,
             at: int | None = None) -> ItemView | None:
        try:
            if at is not None:
                return next_item(db, queue_id, user.user_id, at - 1)
            if before is not None:
                return previous_item(db, queue_id, user.user_id, before)
            return next_item(db, queue_id, user.user_id, after)
        except QueueNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        except NotAssignedError as exc:
            raise HTTPException(403, str(exc)) from None

    @app.get("/queues/{queue_id}", response_class=HTMLResponse)
    def queue_page(request: Request, queue_id: int, after: str = "", before: str = "", at: str = ""):
        user = page_user(request)
        queue = queue_info(queue_id)
        view = pick(queue_id, user, _int_or_none(after), _int_or_none(before), _int_or_none(at))
        model = _ViewModel(view, item_html_inner(user, view)) if view else None
        return render(request, "queue.html", user, queue=queue, view=model,
                      progress=queue_progress(db, queue_id, user.user_id))

    def item_html_inner(user: auth.SessionInfo, view: ItemView) -> Markup:
        return render_item(_view_item(view), view_context(user, view))

    @app.get("/api/queues/{queue_id}/{direction}")
    def api_step(request: Request, queue_id: int, direction: str, position: str = ""):
        user = api_user(request)
        pos = _int_or_none(position)
        if direction == "next":
            view = pick(queue_id, user, after=pos)
        elif direction == "previous":
            view = pick(queue_id, user, before=pos)
        else:
            raise HTTPException(404, "use /next or /previous")
        return view_payload(request, user, view, queue_id)

    def visible_item(user: auth.SessionInfo, item_id: int) -> ItemView:
        """The item as ``user`` sees it: 404 if there is none, 403 if it is not theirs."""
        try:
            return get_item(db, item_id, user.user_id)
        except ItemNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        except NotAssignedError as exc:
            raise HTTPException(403, str(exc)) from None

    def record(user: auth.SessionInfo, item_id: int, label: int, comment: str | None) -> ItemView:
        try:
            judge(db, item_id, user.user_id, label, comment)
            return get_item(db, item_id, user.user_id)
        except ItemNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        except NotAssignedError as exc:
            raise HTTPException(403, str(exc)) from None
        except ReviewError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/api/items/{item_id}/judgement")
    def api_judge(request: Request, item_id: int, body: JudgementIn):
        user = api_user(request)
        check_csrf(user, request.headers.get("x-csrf-token"))
        view = record(user, item_id, body.label, body.comment)
        following = pick(view.queue_id, user, after=view.position)
        return {**view_payload(request, user, following, view.queue_id), "judged_item": item_id,
                "label_name": LABELS[body.label]}

    @app.post("/items/{item_id}/judgement")
    def form_judge(request: Request, item_id: int, label: int = Form(...), comment: str = Form(""),
                   csrf_token: str = Form("")):
        user = page_user(request)
        check_csrf(user, csrf_token)
        view = record(user, item_id, label, comment)
        return RedirectResponse(f"/queues/{view.queue_id}?after={view.position}", status_code=303)

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    def item_page(request: Request, item_id: int):
        user = page_user(request)
        view = visible_item(user, item_id)
        return render(request, "item_page.html", user, queue=queue_info(view.queue_id),
                      view=_ViewModel(view, item_html_inner(user, view)))

    # -- media ----------------------------------------------------------------------------
    @app.get("/media/{item_id}/{name}")
    def media(request: Request, item_id: int, name: str):
        user = api_user(request)
        view = visible_item(user, item_id)  # a malformed stored reference: 404 (bad_reference)
        ref = view.item.media.get(name)
        if ref is None or name == RAW_MEDIA or ref.lead_only or ref.column == "raw":
            raise HTTPException(404, f"item {item_id} has no medium {name!r}")
        if not runs.may_stream(view.item.run_id, view.item.dataset, ref.key):
            log.warning("refused media %s of item %d: key %r is not the run's own", name, item_id, ref.key)
            raise HTTPException(404, f"item {item_id} has no medium {name!r}")
        return _stream(request, store, ref, settings)

    # -- lead pages -----------------------------------------------------------------------
    def dashboard_page(request: Request, user: auth.SessionInfo, run: RunData, messages: list[str],
                       status: int = 200) -> HTMLResponse:
        rows = dashboard(db, run.run_id)
        return render(request, "dashboard.html", user, status=status, run=run, rows=rows, messages=messages)

    @app.get("/runs/{run_id}/dashboard", response_class=HTMLResponse)
    def dashboard_view(request: Request, run_id: str):
        user = page_user(request, lead=True)
        return dashboard_page(request, user, open_run(run_id), [])

    @app.post("/runs/{run_id}/export/parquet", response_class=HTMLResponse)
    def export_view(request: Request, run_id: str, csrf_token: str = Form("")):
        user = page_user(request, lead=True)
        check_csrf(user, csrf_token)
        run = open_run(run_id)
        try:
            result = export_parquet(db, store, run_id)
        except ReviewError as exc:
            return dashboard_page(request, user, run, [str(exc)], status=400)
        return dashboard_page(request, user, run, [
            f"wrote {result.rows} judgement(s) to {result.key} and the figures to {result.summary_key}"])

    @app.get("/runs/{run_id}/export/label-studio.json")
    def export_label_studio(request: Request, run_id: str):
        page_user(request, lead=True)
        open_run(run_id)
        return Response(label_studio_json(db, run_id), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{run_id}-label-studio.json"'})

    return app


# -- helpers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ViewModel:
    """What item.html reads: the item's place, decision, label and rendered viewer."""

    view: ItemView
    html: Markup

    def __getattr__(self, name: str) -> Any:
        if name in ("decision", "reasons", "record_id"):
            return getattr(self.view.item, name)
        return getattr(self.view, name)


def _view_item(view: ItemView) -> ViewItem:
    """The published side of an item for a viewer: raw fields dropped, media as app URLs."""
    item = view.item
    media = {name: f"/media/{view.item_id}/{quote(name)}" for name, ref in item.media.items()
             if name != RAW_MEDIA and not ref.lead_only}
    fields = {k: v for k, v in item.fields.items() if k not in RAW_FIELDS}
    if isinstance(fields.get("other"), dict):
        fields["other"] = {k: v for k, v in fields["other"].items() if k not in RAW_FIELDS}
    return ViewItem(item_id=view.item_id, queue=item.queue, modality=item.modality, decision=item.decision,
                    record_id=item.record_id, reasons=list(item.reasons), fields=fields, media=media,
                    other_record_id=item.other_record_id)


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a position") from None


def _safe_next(target: str) -> str:
    """Where to go after logging in: a path of this app only (no other host, no scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(c < " " for c in target):
        return "/"
    return target


def _is_s3(store: ObjectStore) -> bool:
    return store.uri.startswith("s3://")


def _presign_origin(store: ObjectStore) -> str | None:
    """The S3 endpoint's origin, which pages may load presigned media from."""
    if not _is_s3(store):
        return None
    scheme = "https" if getattr(store, "secure", False) else "http"
    return f"{scheme}://{store.endpoint}"  # type: ignore[attr-defined]


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range within ``size``; None for none.
    Raises HTTPException 416 for a range that cannot be served."""
    if not header:
        return None
    m = _RANGE_RE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise HTTPException(416, "only one byte range (bytes=START-END) is served",
                            headers={"Content-Range": f"bytes */{size}"})
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        start, end = max(size - int(m.group(2)), 0), size - 1
    if start >= size or end < start:
        raise HTTPException(416, f"range outside the {size} bytes of this medium",
                            headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _stream(request: Request, store: ObjectStore, ref: MediaRef, settings: ReviewSettings) -> Response:
    """The medium's bytes, honouring a Range header (players seek in audio and video).

    A medium that is a whole object of an S3 store is handed out as a short-lived presigned
    URL (a redirect), so big files do not pass through the app; tar members and table cells
    are read here, since a presigned URL cannot name a byte range of an object."""
    try:
        if ref.is_range and ref.offset == 0 and _is_s3(store):
            if store.stat(ref.key).size == ref.length:
                return RedirectResponse(store.url(ref.key, settings.presign_s), status_code=307)
        size = ref.length
        if ref.is_range and size is not None:
            wanted = _parse_range(request.headers.get("range"), size)
            assert ref.offset is not None
            if wanted is None:
                data, status, extra = store.get_range(ref.key, ref.offset, size), 200, {}
            else:
                start, end = wanted
                data = store.get_range(ref.key, ref.offset + start, end - start + 1)
                status, extra = 206, {"Content-Range": f"bytes {start}-{end}/{size}"}
        else:
            whole = read_media(store, ref)
            wanted = _parse_range(request.headers.get("range"), len(whole))
            if wanted is None:
                data, status, extra = whole, 200, {}
            else:
                start, end = wanted
                data, status = whole[start:end + 1], 206
                extra = {"Content-Range": f"bytes {start}-{end}/{len(whole)}"}
    except (MediaError, ObjectNotFoundError) as exc:
        raise HTTPException(404, str(exc)) from None
    except StoreError as exc:
        raise HTTPException(502, f"the store did not answer: {exc}") from None
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300", **extra}
    return Response(data, status_code=status, media_type=ref.content_type, headers=headers)


__all__ = ["create_app"]
