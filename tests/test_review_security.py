"""The review app's defences, through its real routes: sessions, roles, CSRF, the login rate
limit, cookies, security headers, escaping, media keys and ranges, and where it may listen.

Everything is real: a SQLite review database in a tmp folder, users with argon2 hashes,
the FastAPI app on the ``review_runs`` store (a real text run and a real image run), logins
through the login form and queues drawn through the lead's form. The escaping tests ingest
a tiny text source of their own (a record and a malformed line holding ``<script>``).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from review import auth
from review.app import create_app
from review.db import Assignment, Item, Judgement, ReviewDB, User, WebSession, utcnow
from review.runs import MediaRef, allowed_keys, is_run_key, load_run
from review.sampling import KEPT, reason_queue
from review.serve import InsecureBindError, check_bind
from review.service import list_queues
from review.settings import ReviewSettings
from review.users import add_user, deactivate
from storage.base import ObjectStore
from storage.local import LocalStore

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DATA_CSRF_RE = re.compile(r'data-csrf="([^"]+)"')
ITEM_RE = re.compile(r'data-item-id="(\d+)"')
SCRIPT_RECORD = "<script>alert(1)</script>"
SCRIPT_RAW = "<script>alert(2)</script>"
VI_TEXT = ("Hôm nay trời đẹp, người dân đi dạo quanh hồ Gươm rất đông vui và náo nhiệt. "
           "Các gia đình đưa trẻ nhỏ ra công viên chơi đùa suốt buổi chiều. ")
OTHER_TEXT = "Một bài viết khác về thời tiết ở Hà Nội hôm nay, trời mưa nhẹ vào buổi sáng. "


# -- helpers (test_review_sampling uses some) ---------------------------------------------
def make_db(tmp_path: Path) -> ReviewDB:
    db = ReviewDB(f"sqlite:///{tmp_path}/r.sqlite")
    db.create_all()
    return db


def make_users(db: ReviewDB, *names: tuple[str, str]) -> dict[str, int]:
    """Add (name, role) users with PASSWORD; name -> user id."""
    return {name: add_user(db, name, role, PASSWORD).id for name, role in names}


def client_of(app: FastAPI, **kw) -> TestClient:
    """A browser of its own (its own cookie jar) that does not follow redirects."""
    return TestClient(app, follow_redirects=False, **kw)


def login(client: TestClient, name: str, password: str = PASSWORD, next_url: str = "/"):
    """Submit the real login form: GET /login for its token (and cookie), then POST it."""
    page = client.get("/login")
    assert page.status_code == 200
    token = CSRF_RE.search(page.text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token,
                                       "next": next_url})


def logged_in(app: FastAPI, name: str, **kw) -> TestClient:
    client = client_of(app, **kw)
    response = login(client, name)
    assert response.status_code == 303, response.text
    assert auth.SESSION_COOKIE in client.cookies
    return client


def page_csrf(client: TestClient, path: str = "/") -> str:
    """The session's CSRF token, from a page's hidden form field (the logout form has one)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF_RE.search(page.text).group(1)


def draw(client: TestClient, run_id: str, name: str, per_queue: int = 50, seed: int = 0,
         double_share: float = 0.0) -> int:
    """Draw a queue through the lead's form on the run page; the queue's id."""
    token = page_csrf(client, f"/runs/{run_id}")
    response = client.post(f"/runs/{run_id}/queues", data={
        "name": name, "per_queue": str(per_queue), "seed": str(seed), "double_share": str(double_share),
        "csrf_token": token})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/queues/\d+", location), location
    return int(location.rsplit("/", 1)[1])


def queue_items(db: ReviewDB, queue_id: int) -> list[Item]:
    with db.session() as s:
        return list(s.scalars(select(Item).where(Item.queue_id == queue_id).order_by(Item.position)))


def assignees(db: ReviewDB, item_id: int) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(Assignment.user_id).where(Assignment.item_id == item_id)))


def judgement_count(db: ReviewDB) -> int:
    with db.session() as s:
        return s.scalar(select(func.count(Judgement.id))) or 0


def set_cookie_headers(response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def tamper_media(db: ReviewDB, item_id: int, media: dict) -> None:
    """Rewrite the media of an item's stored payload, as someone with database access could."""
    with db.session() as s:
        item = s.get(Item, item_id)
        payload = json.loads(json.dumps(item.payload))
        payload["media"] = media
        item.payload = payload


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path):
    database = make_db(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def team(db: ReviewDB) -> dict[str, int]:
    """A lead and two annotators (ann1 before ann2 by id)."""
    return make_users(db, ("lead", "lead"), ("ann1", "annotator"), ("ann2", "annotator"))


@pytest.fixture
def app(review_runs: dict, db: ReviewDB, team: dict[str, int]) -> FastAPI:
    return create_app(review_runs["store"], db, ReviewSettings())


@pytest.fixture(scope="module")
def script_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store of its own with one tiny text run: a Vietnamese record whose text holds
    ``<script>alert(1)</script>`` and a malformed JSONL line holding ``<script>alert(2)</script>``
    (quarantined with its raw bytes)."""
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest

    base = tmp_path_factory.mktemp("review-script")
    data = base / "in"
    data.mkdir()
    lines = [json.dumps({"text": f"{SCRIPT_RECORD} {VI_TEXT * 4}"}, ensure_ascii=False),
             '{"text": "' + SCRIPT_RAW + ' broken',
             json.dumps({"text": OTHER_TEXT * 4}, ensure_ascii=False)]
    (data / "x.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = base / "x.yaml"
    cfg.write_text(f"""
dataset: script-text
sources:
  - name: scripted
    format: jsonl
    paths: ["{data}/x.jsonl"]
""")
    store = LocalStore(base / "store")
    result = run_ingest(load_ingest_config(cfg), store)
    assert result.stats["totals"]["quarantined"] == 1, result.stats["totals"]
    run = load_run(store, result.run_id)
    queue = None
    for table in ("kept", "rejected"):
        for row in run.iter_records(table):
            if SCRIPT_RECORD in (row.get("text") or ""):
                queue, record_id = (KEPT if table == "kept" else reason_queue(row["reasons"][0])), row["id"]
    assert queue is not None, "the <script> record is in neither the kept nor the rejected table"
    return {"store": store, "run_id": result.run_id, "queue": queue, "record_id": record_id}


# -- no session ---------------------------------------------------------------------------
def test_every_route_without_a_session_redirects_pages_to_login_and_answers_api_and_media_401(
        review_runs: dict, app: FastAPI) -> None:
    run = review_runs["text_run"]
    pages_get = ["/", f"/runs/{run}", f"/runs/{run}/dashboard", "/queues/1", "/queues/1?after=2", "/items/1",
                 f"/runs/{run}/export/label-studio.json"]
    pages_post = [(f"/runs/{run}/queues", {"name": "kept", "per_queue": "5", "seed": "0", "double_share": "0",
                                           "csrf_token": "x"}),
                  ("/items/1/judgement", {"label": "1", "comment": "", "csrf_token": "x"}),
                  (f"/runs/{run}/export/parquet", {"csrf_token": "x"}),
                  ("/logout", {"csrf_token": "x"})]
    api_get = ["/api/queues/1/next", "/api/queues/1/previous", "/media/1/image", "/media/1/raw"]
    for forged in (None, "forged-session-token", "x" * 300):
        client = client_of(app)
        if forged:
            client.cookies.set(auth.SESSION_COOKIE, forged)
        for path in pages_get:
            r = client.get(path)
            assert r.status_code == 303, (path, forged, r.status_code)
            assert r.headers["location"] == f"/login?next={quote(path, safe='')}", (path, r.headers["location"])
        for path, form in pages_post:
            r = client.post(path, data=form)
            assert r.status_code == 303, (path, forged, r.status_code, r.text)
            assert r.headers["location"] == f"/login?next={quote(path, safe='')}"
        for path in api_get:
            r = client.get(path)
            assert r.status_code == 401, (path, forged, r.status_code)
            assert "log in" in r.json()["detail"]
        r = client.post("/api/items/1/judgement", json={"label": 1, "comment": ""}, headers={"X-CSRF-Token": "x"})
        assert r.status_code == 401
    # what stays open: the login form and the static files
    anonymous = client_of(app)
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/review.js").status_code == 200
    assert list_queues(app.state.db) == []


def test_login_redirects_only_to_a_path_of_the_app(app: FastAPI) -> None:
    for target, expected in [("/runs/x?y=1", "/runs/x?y=1"), ("https://evil.example/", "/"), ("//evil.example", "/"),
                             ("/\\evil.example", "/")]:
        client = client_of(app)
        r = login(client, "ann1", next_url=target)
        assert r.status_code == 303 and r.headers["location"] == expected, (target, r.headers["location"])


# -- roles --------------------------------------------------------------------------------
def test_an_annotator_gets_403_on_the_dashboard_drawing_a_queue_and_both_exports(
        review_runs: dict, app: FastAPI, db: ReviewDB) -> None:
    run, store = review_runs["text_run"], review_runs["store"]
    ann = logged_in(app, "ann1")
    token = page_csrf(ann, f"/runs/{run}")
    assert 'id="draw"' not in ann.get(f"/runs/{run}").text
    assert ann.get(f"/runs/{run}/dashboard").status_code == 403
    r = ann.post(f"/runs/{run}/queues", data={"name": "kept", "per_queue": "5", "seed": "0", "double_share": "0",
                                              "csrf_token": token})
    assert r.status_code == 403
    assert ann.post(f"/runs/{run}/export/parquet", data={"csrf_token": token}).status_code == 403
    assert ann.get(f"/runs/{run}/export/label-studio.json").status_code == 403
    assert list_queues(db) == []
    assert not list(store.list(f"runs/{run}/review/"))
    # the lead may do all of it
    lead = logged_in(app, "lead")
    assert lead.get(f"/runs/{run}/dashboard").status_code == 200
    assert lead.get(f"/runs/{run}/export/label-studio.json").status_code == 200


def test_an_annotator_cannot_see_or_judge_an_item_assigned_to_another_annotator(
        review_runs: dict, app: FastAPI, db: ReviewDB, team: dict[str, int]) -> None:
    lead = logged_in(app, "lead")
    queue_id = draw(lead, review_runs["text_run"], "kept", per_queue=50, seed=0, double_share=0.0)
    items = queue_items(db, queue_id)
    assert len(items) > 1
    for item in items:
        assert len(assignees(db, item.id)) == 1
    foreign = [it for it in items if team["ann1"] not in assignees(db, it.id)]
    own = [it for it in items if team["ann1"] in assignees(db, it.id)]
    assert foreign and own, "with two annotators and double_share 0 each gets some items"

    ann1 = logged_in(app, "ann1")
    token = DATA_CSRF_RE.search(ann1.get(f"/queues/{queue_id}").text).group(1)
    assert ann1.get(f"/items/{own[0].id}").status_code == 200
    for item in foreign:
        assert ann1.get(f"/items/{item.id}").status_code == 403
        assert ann1.get(f"/media/{item.id}/image").status_code == 403
        r = ann1.post(f"/api/items/{item.id}/judgement", json={"label": 2, "comment": ""},
                      headers={"X-CSRF-Token": token})
        assert r.status_code == 403
        r = ann1.post(f"/items/{item.id}/judgement", data={"label": "2", "comment": "", "csrf_token": token})
        assert r.status_code == 403
        # stepping through the queue never lands on it
        page = ann1.get(f"/queues/{queue_id}?at={item.position}")
        assert f'data-item-id="{item.id}"' not in page.text
        step = ann1.get(f"/api/queues/{queue_id}/next", params={"position": str(item.position - 1)}).json()
        assert step.get("item_id") != item.id
    assert judgement_count(db) == 0
    # the annotator's progress counts their own items only
    assert f"0 of {len(own)} judged" in ann1.get(f"/queues/{queue_id}").text


# -- CSRF ---------------------------------------------------------------------------------
def test_judging_without_or_with_a_wrong_csrf_token_is_refused_and_stores_nothing(
        review_runs: dict, app: FastAPI, db: ReviewDB, team: dict[str, int]) -> None:
    lead = logged_in(app, "lead")
    lead_token = page_csrf(lead)
    queue_id = draw(lead, review_runs["text_run"], "kept", per_queue=50, double_share=1.0)
    ann = logged_in(app, "ann1")
    page = ann.get(f"/queues/{queue_id}").text
    token = DATA_CSRF_RE.search(page).group(1)
    item_id = int(ITEM_RE.search(page).group(1))
    assert CSRF_RE.search(page).group(1) == token  # the form field carries the same token
    url = f"/api/items/{item_id}/judgement"
    body = {"label": 1, "comment": ""}
    assert ann.post(url, json=body).status_code == 403
    assert ann.post(url, json=body, headers={"X-CSRF-Token": ""}).status_code == 403
    assert ann.post(url, json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert ann.post(url, json=body, headers={"X-CSRF-Token": token + "x"}).status_code == 403
    assert ann.post(url, json=body, headers={"X-CSRF-Token": lead_token}).status_code == 403  # another session's
    form = f"/items/{item_id}/judgement"
    assert ann.post(form, data={"label": "1", "comment": ""}).status_code == 403
    assert ann.post(form, data={"label": "1", "comment": "", "csrf_token": "wrong"}).status_code == 403
    assert ann.post(form, data={"label": "1", "comment": "", "csrf_token": lead_token}).status_code == 403
    assert judgement_count(db) == 0
    # with the session's own token both routes work
    r = ann.post(url, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["judged_item"] == item_id
    r = ann.post(form, data={"label": "2", "comment": "", "csrf_token": token})
    assert r.status_code == 303
    assert judgement_count(db) == 1


def test_logout_without_its_csrf_token_is_refused_and_the_session_goes_on(app: FastAPI) -> None:
    ann = logged_in(app, "ann1")
    assert ann.post("/logout").status_code == 403
    assert ann.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert ann.get("/").status_code == 200


def test_the_login_form_without_its_login_cookie_token_is_refused(app: FastAPI) -> None:
    client = client_of(app)
    page = client.get("/login")
    token = CSRF_RE.search(page.text).group(1)
    assert set_cookie_headers(page, auth.LOGIN_CSRF_COOKIE)
    form = {"name": "ann1", "password": PASSWORD, "csrf_token": token, "next": "/"}
    client.cookies.clear()
    r = client.post("/login", data=form)
    assert r.status_code == 403 and not set_cookie_headers(r, auth.SESSION_COOKIE)
    # another browser's form token with this browser's cookie: refused too
    other = client_of(app)
    other_token = CSRF_RE.search(other.get("/login").text).group(1)
    client.get("/login")
    r = client.post("/login", data={**form, "csrf_token": other_token})
    assert r.status_code == 403 and not set_cookie_headers(r, auth.SESSION_COOKIE)
    r = client.post("/login", data={**form, "csrf_token": ""})
    assert r.status_code == 403
    assert client.get("/").status_code == 303
    # the form's own pair works
    assert login(client, "ann1").status_code == 303


# -- media --------------------------------------------------------------------------------
def test_media_routes_refuse_traversal_and_names_not_in_the_item(review_runs: dict, app: FastAPI,
                                                                 db: ReviewDB) -> None:
    lead = logged_in(app, "lead")
    queue_id = draw(lead, review_runs["image_run"], "kept", per_queue=3)
    item_id = queue_items(db, queue_id)[0].id
    assert lead.get(f"/media/{item_id}/image").status_code == 200
    for name in ["..%2F..%2Fetc%2Fpasswd", "..%2F..%2F..%2Fruns", "%2e%2e", "..", "nonexistent", "raw",
                 "other_image", "image%00", "IMAGE", "image.jpg"]:
        r = lead.get(f"/media/{item_id}/{name}")
        assert r.status_code == 404, (name, r.status_code)
        assert b"root:" not in r.content
    assert lead.get("/media/999999/image").status_code == 404


def _first_key(store: ObjectStore, prefix: str, suffix: str = "") -> str:
    keys = sorted(info.key for info in store.list(prefix) if info.key.endswith(suffix))
    assert keys, f"no object under {prefix}"
    return keys[0]


def test_a_media_key_tampered_in_the_database_is_refused_and_its_bytes_never_returned(
        review_runs: dict, app: FastAPI, db: ReviewDB) -> None:
    store, text_run, image_run = review_runs["store"], review_runs["text_run"], review_runs["image_run"]
    lead = logged_in(app, "lead")
    queue_id = draw(lead, image_run, "kept", per_queue=2)
    item = queue_items(db, queue_id)[0]
    original = item.payload["media"]
    assert lead.get(f"/media/{item.id}/image").status_code == 200
    targets = {
        "another run's table": _first_key(store, f"runs/{text_run}/quarantine/", ".parquet"),
        "another run's stats": f"runs/{text_run}/stats.json",
        "another dataset's shard": _first_key(store, "datasets/vi-text-sample/shards/", ".parquet"),
        "a ledger entry": _first_key(store, "ledger/img/", ".json"),
        "this run's stats": f"runs/{image_run}/stats.json",
        "this run's report": f"runs/{image_run}/report.html",
        "this dataset's manifest": "datasets/img/versions/v1.json",
        "this dataset's ref": "datasets/img/refs/latest",
        "a missing shard of this dataset": f"datasets/img/shards/image/{image_run}/part-99999-00000.tar",
    }
    for what, key in targets.items():
        secret = store.get_bytes(key)[:64] if store.exists(key) else None
        n = min(64, store.stat(key).size) if secret is not None else 64
        for ref in (MediaRef(key, 0, n, "image/jpeg"),
                    MediaRef(key, None, n, "image/jpeg", column="raw", row_key="x")):
            tamper_media(db, item.id, {"image": ref.to_json()})
            for headers in ({}, {"Range": "bytes=0-9"}):
                r = lead.get(f"/media/{item.id}/image", headers=headers)
                assert r.status_code == 404, (what, key, headers, r.status_code)
                if secret:
                    assert secret not in r.content and secret[:10] not in r.content, what
    # keys that are not even safe keys
    for key in [f"runs/{image_run}/rejected/../../{text_run}/stats.json", "/etc/passwd",
                f"datasets/img/shards/../../vi-text-sample/versions/v1.json"]:
        tamper_media(db, item.id, {"image": {"key": key, "offset": 0, "length": 16, "content_type": "image/jpeg",
                                             "column": None, "row_key": None, "lead_only": False}})
        r = lead.get(f"/media/{item.id}/image")
        assert r.status_code == 404, (key, r.status_code)
        assert b"root:" not in r.content and b"run_id" not in r.content
    # the item's own media, restored, stream again
    tamper_media(db, item.id, original)
    assert lead.get(f"/media/{item.id}/image").status_code == 200
    # each of the two checks refuses these keys on its own (defence in depth)
    run = load_run(store, image_run)
    allowed = allowed_keys(run)
    own = MediaRef.from_json(original["image"]).key
    assert is_run_key(image_run, "img", own) and own in allowed
    for what, key in targets.items():
        assert key not in allowed, what
        if what != "a missing shard of this dataset":
            assert not is_run_key(image_run, "img", key), what
    assert not is_run_key(image_run, "vi-text-sample", own)
    assert not is_run_key("../" + image_run, "img", own)


def test_a_raw_cell_renamed_or_a_malformed_key_in_the_database_gives_404_not_500(
        review_runs: dict, app: FastAPI, db: ReviewDB) -> None:
    lead = logged_in(app, "lead")
    queue_id = draw(lead, review_runs["text_run"], "quarantine", per_queue=5)
    item = next(it for it in queue_items(db, queue_id) if "raw" in it.payload["media"])
    raw = dict(item.payload["media"]["raw"], lead_only=False)
    tamper_media(db, item.id, {"image": raw})  # the raw cell under an ordinary name
    assert lead.get(f"/media/{item.id}/image").status_code == 404
    tamper_media(db, item.id, {"image": {"key": "../../etc/passwd", "offset": 0, "length": 16,
                                         "content_type": "image/jpeg", "column": None, "row_key": None,
                                         "lead_only": False}})
    for path in (f"/items/{item.id}", f"/queues/{queue_id}?at={item.position}"):
        r = lead.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "draw the queue again" in r.text


def test_the_raw_medium_of_a_quarantined_input_is_never_streamed_even_to_a_lead(
        review_runs: dict, app: FastAPI, db: ReviewDB) -> None:
    lead = logged_in(app, "lead")
    ann = logged_in(app, "ann1")
    for run in (review_runs["text_run"], review_runs["image_run"]):
        queue_id = draw(lead, run, "quarantine", per_queue=10, double_share=1.0)
        items = queue_items(db, queue_id)
        assert items
        for item in items:
            assert "raw" in item.payload["media"]
            for client in (lead, ann):
                assert client.get(f"/media/{item.id}/raw").status_code == 404
                page = client.get(f"/items/{item.id}").text
                assert f"/media/{item.id}/raw" not in page


def test_a_leads_quarantine_page_shows_the_raw_bytes_escaped_and_an_annotators_does_not(
        script_run: dict, tmp_path: Path) -> None:
    db = make_db(tmp_path)
    make_users(db, ("lead", "lead"), ("ann1", "annotator"))
    app = create_app(script_run["store"], db, ReviewSettings())
    lead = logged_in(app, "lead")
    queue_id = draw(lead, script_run["run_id"], "quarantine", per_queue=5)
    (item,) = queue_items(db, queue_id)
    escaped = "&lt;script&gt;alert(2)&lt;/script&gt;"
    for page in (lead.get(f"/items/{item.id}").text, lead.get(f"/queues/{queue_id}").text):
        assert escaped in page and 'id="raw"' in page
        assert SCRIPT_RAW not in page
    ann = logged_in(app, "ann1")
    api = ann.get(f"/api/queues/{queue_id}/next").json()
    assert api["item_id"] == item.id
    for page in (ann.get(f"/items/{item.id}").text, ann.get(f"/queues/{queue_id}").text, api["html"]):
        assert "JSONDecodeError" in page  # the error is shown ...
        assert "alert(2)" not in page and 'id="raw"' not in page  # ... the raw input is not
    assert ann.get(f"/media/{item.id}/raw").status_code == 404
    # the viewer itself shows raw bytes to leads only, even if an annotator's context had them
    from review.viewers import ViewContext, ViewItem, render_item

    env = _templates_env()
    view = ViewItem(item_id=item.id, queue="quarantine", modality="text", decision="quarantined",
                    record_id=item.record_id, reasons=["JSONDecodeError"],
                    fields={"error_class": "JSONDecodeError", "message": "malformed"})
    raw = SCRIPT_RAW.encode()
    assert "alert(2)" not in render_item(view, ViewContext(env=env, role="annotator", raw_preview=raw))
    assert escaped in render_item(view, ViewContext(env=env, role="lead", raw_preview=raw))
    db.dispose()


def _templates_env():
    """The app's Jinja2 environment (its templates folder, autoescaped as the app does)."""
    from fastapi.templating import Jinja2Templates

    import review.app

    return Jinja2Templates(directory=str(Path(review.app.__file__).parent / "templates")).env


# -- login rate limit ---------------------------------------------------------------------
def rate_app(review_runs: dict, db: ReviewDB, login_rate: int) -> FastAPI:
    return create_app(review_runs["store"], db, ReviewSettings(login_rate=login_rate))


def test_wrong_passwords_are_rate_limited_and_then_even_the_right_password_gets_429(
        review_runs: dict, db: ReviewDB, team: dict[str, int]) -> None:
    app = rate_app(review_runs, db, 3)
    client = client_of(app)
    for _ in range(3):
        r = login(client, "ann1", "wrong password!")
        assert r.status_code == 401 and "wrong name or password" in r.text
    r = login(client, "ann1", PASSWORD)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "too many failed logins" in r.text
    assert not set_cookie_headers(r, auth.SESSION_COOKIE)
    assert client.get("/").status_code == 303
    # the per-name limit is per name: another user from the same address still logs in
    assert login(client_of(app), "ann2", PASSWORD).status_code == 303


def test_one_address_is_limited_across_names_after_login_rate_times_four_failures(
        review_runs: dict, db: ReviewDB, team: dict[str, int]) -> None:
    rate = 2
    app = rate_app(review_runs, db, rate)
    client = client_of(app)
    budget = rate * auth.ADDRESS_FACTOR
    assert budget == rate * 4
    for i in range(budget - 1):  # one failure per name: no name reaches its own limit
        assert login(client, f"nobody{i}", "wrong password!").status_code == 401
    assert login(client_of(app), "ann1", PASSWORD).status_code == 303  # one below the address limit
    assert login(client, f"nobody{budget}", "wrong password!").status_code == 401
    for name in ("lead", "ann2", "someone-new"):
        r = login(client_of(app), name, PASSWORD)
        assert r.status_code == 429, name
        assert r.headers.get("retry-after")


def test_a_successful_login_is_not_counted_as_a_failure(review_runs: dict, db: ReviewDB,
                                                        team: dict[str, int]) -> None:
    app = rate_app(review_runs, db, 2)
    for _ in range(4):
        assert login(client_of(app), "ann1", PASSWORD).status_code == 303
    assert login(client_of(app), "ann1", "wrong password!").status_code == 401
    assert login(client_of(app), "ann1", PASSWORD).status_code == 303
    assert login(client_of(app), "ann1", "wrong password!").status_code == 401
    assert login(client_of(app), "ann1", PASSWORD).status_code == 429  # two failures, whatever the successes


# -- cookies and sessions -----------------------------------------------------------------
def _attrs(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts[1:]}


def test_the_session_cookie_is_httponly_and_samesite_strict(app: FastAPI) -> None:
    client = client_of(app)
    page = client.get("/login")
    (login_cookie,) = set_cookie_headers(page, auth.LOGIN_CSRF_COOKIE)
    r = client.post("/login", data={"name": "ann1", "password": PASSWORD, "next": "/",
                                    "csrf_token": CSRF_RE.search(page.text).group(1)})
    assert r.status_code == 303
    (session_cookie,) = set_cookie_headers(r, auth.SESSION_COOKIE)
    for header in (session_cookie, login_cookie):
        attrs = _attrs(header)
        assert "httponly" in attrs, header
        assert attrs.get("samesite", "").lower() == "strict", header
        assert "secure" not in attrs, header  # plain HTTP on loopback by default
    assert _attrs(session_cookie)["path"] == "/"
    token = session_cookie.split(";", 1)[0].split("=", 1)[1]
    assert len(token) >= 40
    with app.state.db.session() as s:  # the database keeps only the token's digest
        stored = list(s.scalars(select(WebSession.token_sha256)))
    assert token not in stored and len(stored) == 1


def test_the_session_cookie_is_secure_when_secure_cookies_is_set(review_runs: dict, db: ReviewDB,
                                                                 team: dict[str, int], tmp_path: Path) -> None:
    app = create_app(review_runs["store"], db, ReviewSettings(secure_cookies=True))
    client = client_of(app, base_url="https://testserver")
    page = client.get("/login")
    (login_cookie,) = set_cookie_headers(page, auth.LOGIN_CSRF_COOKIE)
    r = client.post("/login", data={"name": "ann1", "password": PASSWORD, "next": "/",
                                    "csrf_token": CSRF_RE.search(page.text).group(1)})
    assert r.status_code == 303, r.text
    (session_cookie,) = set_cookie_headers(r, auth.SESSION_COOKIE)
    for header in (session_cookie, login_cookie):
        attrs = _attrs(header)
        assert {"secure", "httponly"} <= attrs.keys() and attrs["samesite"].lower() == "strict", header
    assert client.get("/").status_code == 200
    # TLS turns Secure on by itself
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    assert ReviewSettings(tls_cert=cert, tls_key=key).cookies_secure
    assert not ReviewSettings().cookies_secure
    assert not ReviewSettings(tls_cert=cert, tls_key=key, secure_cookies=False).cookies_secure


def test_logout_ends_the_session(app: FastAPI) -> None:
    client = logged_in(app, "ann1")
    old = client.cookies[auth.SESSION_COOKIE]
    token = page_csrf(client)
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert set_cookie_headers(r, auth.SESSION_COOKIE)  # the browser is told to drop it
    replay = client_of(app)
    replay.cookies.set(auth.SESSION_COOKIE, old)
    r = replay.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert replay.get("/api/queues/1/next").status_code == 401
    assert replay.post("/logout", data={"csrf_token": token}).status_code == 303  # no session left to end


def test_a_deactivated_users_session_stops_working(app: FastAPI, db: ReviewDB) -> None:
    client = logged_in(app, "ann1")
    old = client.cookies[auth.SESSION_COOKIE]
    assert client.get("/").status_code == 200
    deactivate(db, "ann1")
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/queues/1/next").status_code == 401
    assert login(client_of(app), "ann1", PASSWORD).status_code == 401
    # even if its session row were back, an inactive user opens nothing
    with db.session() as s:
        user_id = s.scalar(select(User.id).where(User.name == "ann1"))
        s.add(WebSession(token_sha256=auth._digest(old), user_id=user_id, csrf_token="t",
                         expires_at=utcnow() + timedelta(hours=1)))
    assert client.get("/").status_code == 303


# -- headers and escaping -----------------------------------------------------------------
def _check_headers(response, what: str) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert csp, what
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (what, csp)
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, (what, csp)
    assert response.headers.get("x-frame-options") == "DENY", what
    assert response.headers.get("x-content-type-options") == "nosniff", what


def test_pages_carry_a_content_security_policy_without_unsafe_inline_and_frame_and_sniff_guards(
        review_runs: dict, app: FastAPI) -> None:
    run = review_runs["image_run"]
    anonymous = client_of(app)
    _check_headers(anonymous.get("/login"), "/login")
    _check_headers(anonymous.get("/"), "redirect")
    _check_headers(anonymous.get("/api/queues/1/next"), "401")
    lead = logged_in(app, "lead")
    queue_id = draw(lead, run, "kept", per_queue=2)
    pages = ["/", f"/runs/{run}", f"/runs/{run}/dashboard", f"/queues/{queue_id}", "/queues/999999"]
    for path in pages:
        r = lead.get(path)
        _check_headers(r, path)
        # the policy would block inline code: the pages have none
        assert not re.search(r"<script(?![^>]*\ssrc=)", r.text), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), path
    item_id = int(ITEM_RE.search(lead.get(f"/queues/{queue_id}").text).group(1))
    _check_headers(lead.get(f"/media/{item_id}/image"), "media")
    _check_headers(lead.get(f"/api/queues/{queue_id}/next"), "api")


def test_html_in_record_fields_is_escaped(script_run: dict, tmp_path: Path) -> None:
    db = make_db(tmp_path)
    make_users(db, ("lead", "lead"), ("ann1", "annotator"))
    app = create_app(script_run["store"], db, ReviewSettings())
    lead = logged_in(app, "lead")
    queue_id = draw(lead, script_run["run_id"], script_run["queue"], per_queue=10)
    (item,) = [it for it in queue_items(db, queue_id) if it.record_id == script_run["record_id"]]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    ann = logged_in(app, "ann1")
    api = ann.get(f"/api/queues/{queue_id}/next", params={"position": str(item.position - 1)}).json()
    assert api["item_id"] == item.id
    for client in (lead, ann):
        for page in (client.get(f"/items/{item.id}").text,
                     client.get(f"/queues/{queue_id}?at={item.position}").text, api["html"]):
            assert escaped in page
            assert SCRIPT_RECORD not in page
            assert "hồ Gươm" in page  # the record really is on the page
    db.dispose()


# -- where the app may listen -------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "review.example.org", "::", "10.0.0.1"])
def test_check_bind_refuses_a_non_loopback_address_without_tls(host: str) -> None:
    with pytest.raises(InsecureBindError) as info:
        check_bind(ReviewSettings(host=host))
    message = str(info.value)
    assert "--tls-cert" in message and "--allow-insecure-remote" in message and host in message


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "LOCALHOST", "[::1]", "127.0.0.2"])
def test_check_bind_accepts_loopback_addresses(host: str) -> None:
    check_bind(ReviewSettings(host=host))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "review.example.org"])
def test_check_bind_accepts_any_address_with_tls_or_allow_insecure_remote(host: str, tmp_path: Path) -> None:
    check_bind(ReviewSettings(host=host, allow_insecure_remote=True))
    check_bind(ReviewSettings(host=host, tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem"))
    with pytest.raises(ValueError, match="--tls-key"):
        ReviewSettings(host=host, tls_cert=tmp_path / "cert.pem")


# -- ranges -------------------------------------------------------------------------------
def test_range_requests_on_image_media(review_runs: dict, app: FastAPI, db: ReviewDB) -> None:
    run = review_runs["image_run"]
    lead = logged_in(app, "lead")
    kept = queue_items(db, draw(lead, run, "kept", per_queue=1))[0]
    rule = sorted(r for r in json.loads(review_runs["store"].get_text(f"runs/{run}/stats.json"))["rejected_by_reason"]
                  if r.startswith("image:"))[0]
    rejected = queue_items(db, draw(lead, run, f"reason:{rule}", per_queue=1))[0]
    assert kept.payload["media"]["image"]["offset"] is not None  # a byte range of a kept tar
    assert rejected.payload["media"]["image"]["column"] == "image"  # a cell of the rejected table
    for item in (kept, rejected):
        url = f"/media/{item.id}/image"
        full = lead.get(url)
        assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
        assert full.headers["content-type"].startswith("image/")
        size = len(full.content)
        assert size > 100 and full.headers["content-length"] == str(size)
        part = lead.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 0-99/{size}"
        assert part.content == full.content[:100] and len(part.content) == 100
        mid = lead.get(url, headers={"Range": f"bytes=50-{size + 1000}"})  # an end past the size is clipped
        assert mid.status_code == 206 and mid.content == full.content[50:]
        assert mid.headers["content-range"] == f"bytes 50-{size - 1}/{size}"
        tail = lead.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == full.content[-10:]
        for bad in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=20-10", "bytes=0-1,5-9", "items=0-9"):
            r = lead.get(url, headers={"Range": bad})
            assert r.status_code == 416, (bad, r.status_code)
            assert r.headers["content-range"] == f"bytes */{size}"
