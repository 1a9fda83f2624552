"""Every object-store behaviour, against a local directory and a real S3 server alike."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from storage.base import ObjectStore
from storage.errors import (
    BucketNotFoundError,
    InvalidKeyError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreConfigError,
)
from storage.local import LocalStore
from storage.retry import RetryPolicy
from storage.s3 import S3Store
from storage.uri import open_store


def test_put_then_get_returns_the_same_bytes(store: ObjectStore) -> None:
    store.put_bytes("a/b/c.bin", b"\x00\x01hello")
    assert store.get_bytes("a/b/c.bin") == b"\x00\x01hello"
    assert store.exists("a/b/c.bin")
    assert store.stat("a/b/c.bin").size == 7


def test_put_replaces_an_existing_object(store: ObjectStore) -> None:
    store.put_text("k.txt", "one")
    store.put_text("k.txt", "two")
    assert store.get_text("k.txt") == "two"


def test_missing_object_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("nope/never.bin")
    with pytest.raises(ObjectNotFoundError):
        store.stat("nope/never.bin")
    assert not store.exists("nope/never.bin")


def test_delete_removes_and_tolerates_absent_keys(store: ObjectStore) -> None:
    store.put_bytes("d/x", b"1")
    store.delete("d/x")
    store.delete("d/x")
    assert not store.exists("d/x")


def test_streaming_read_yields_the_whole_object(store: ObjectStore) -> None:
    data = bytes(range(256)) * 40_000  # ~10 MB
    store.put_bytes("big/stream.bin", data)
    out = bytearray()
    with store.open_read("big/stream.bin") as fh:
        while chunk := fh.read(1 << 20):
            out += chunk
    assert bytes(out) == data


def test_put_file_uploads_large_files_in_parts(store: ObjectStore, tmp_path: Path, monkeypatch) -> None:
    import storage.base as base
    import storage.s3 as s3mod

    monkeypatch.setattr(base, "MULTIPART_PART_SIZE", 5 * 1024 * 1024)
    monkeypatch.setattr(s3mod, "MULTIPART_PART_SIZE", 5 * 1024 * 1024)
    src = tmp_path / "big.bin"
    payload = (b"kho-" * 1024 * 1024 * 3)[: 12 * 1024 * 1024 + 17]  # > 2 parts of 5 MiB
    src.write_bytes(payload)
    store.put_file("up/big.bin", src)
    assert store.stat("up/big.bin").size == len(payload)
    dest = tmp_path / "back.bin"
    store.download("up/big.bin", dest)
    assert dest.read_bytes() == payload


def test_listing_sees_nested_keys_and_children(store: ObjectStore) -> None:
    for key in ("ds/a/1", "ds/a/2", "ds/b/3", "other/4"):
        store.put_bytes(key, b"x")
    assert sorted(o.key for o in store.list("ds/")) == ["ds/a/1", "ds/a/2", "ds/b/3"]
    assert store.list_children("ds") == ["a", "b"]


def test_url_gives_a_readable_location(store: ObjectStore) -> None:
    import urllib.request

    store.put_bytes("u/x.txt", b"reachable")
    url = store.url("u/x.txt")
    if isinstance(store, LocalStore):
        assert Path(url).read_bytes() == b"reachable"
    else:
        assert urllib.request.urlopen(url, timeout=10).read() == b"reachable"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "../x", "a//b", "a/./b"])
def test_unsafe_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put_bytes(key, b"x")


def test_local_put_is_atomic_for_concurrent_readers(tmp_path: Path) -> None:
    """A reader polling during many rewrites only ever sees whole old or whole new objects."""
    store = LocalStore(tmp_path)
    a, b = b"A" * 2_000_000, b"B" * 2_000_000
    store.put_bytes("obj", a)
    seen: set[bytes] = set()
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            data = store.get_bytes("obj")
            seen.add(data[:1] + data[-1:] + str(len(data)).encode())

    t = threading.Thread(target=reader)
    t.start()
    for i in range(30):
        store.put_bytes("obj", a if i % 2 else b)
    done.set()
    t.join()
    assert seen <= {b"AA2000000", b"BB2000000"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kho-tmp")]


def test_wrong_credentials_fail_at_once_with_a_hint(s3_server, monkeypatch) -> None:
    good = S3Store(s3_server.endpoint, "kho-auth-check", create_bucket=True)
    bad = S3Store(s3_server.endpoint, good.bucket, access_key=s3_server.env()["AWS_ACCESS_KEY_ID"],
                  secret_key="definitely-wrong-secret", retry=RetryPolicy(max_attempts=5))
    started = time.monotonic()
    with pytest.raises(StoreAuthError) as err:
        bad.put_bytes("x", b"1")
    assert time.monotonic() - started < 5  # not retried
    assert "AWS_SECRET_ACCESS_KEY" in str(err.value)
    assert "definitely-wrong-secret" not in str(err.value) + repr(bad)


def test_missing_bucket_is_a_clear_permanent_error(s3_server) -> None:
    store = S3Store(s3_server.endpoint, "kho-no-such-bucket")
    with pytest.raises(BucketNotFoundError, match="does not exist"):
        store.put_bytes("x", b"1")


def test_transient_outage_is_retried_until_the_server_is_back(s3_server) -> None:
    """The S3 server is stopped, then restarted while a put is retrying."""
    store = S3Store(s3_server.endpoint, "kho-retry-check", create_bucket=True,
                    retry=RetryPolicy(max_attempts=12, base_delay_s=0.2, max_delay_s=2.0))
    store.put_bytes("before", b"1")
    s3_server.stop()
    restarter = threading.Timer(2.0, s3_server.start)
    restarter.start()
    try:
        store.put_bytes("during-outage", b"survived")
    finally:
        restarter.join()
    assert store.get_bytes("during-outage") == b"survived"
    assert store.get_bytes("before") == b"1"


def test_credentials_in_the_uri_are_refused() -> None:
    with pytest.raises(StoreConfigError, match="AWS_ACCESS_KEY_ID"):
        open_store("s3://user:secret@bucket/prefix?endpoint=http://127.0.0.1:9")


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(StoreConfigError, match="s3://BUCKET"):
        open_store("gs://bucket/x")


def test_s3_uri_opens_the_same_bucket(s3_server) -> None:
    direct = S3Store(s3_server.endpoint, "kho-uri-check", "pre", create_bucket=True)
    direct.put_text("hello.txt", "xin chào")
    via_uri = open_store(f"s3://kho-uri-check/pre?endpoint=http://{s3_server.endpoint}")
    assert via_uri.get_text("hello.txt") == "xin chào"
