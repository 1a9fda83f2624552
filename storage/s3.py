"""An S3-compatible bucket (MinIO in production) as an object store, through the minio SDK.

The endpoint, TLS and region come from the store URI or the environment; credentials come
only from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or MINIO_ROOT_USER /
MINIO_ROOT_PASSWORD) and never appear in URIs, logs or exception messages.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import parse_qs, urlparse

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storage.base import MULTIPART_PART_SIZE, ObjectInfo, ObjectStore, check_key, check_range
from storage.errors import (
    BucketNotFoundError,
    EndpointNotS3Error,
    ObjectNotFoundError,
    StoreAuthError,
    StoreConfigError,
    StoreError,
    StoreUnreachableError,
    TransientStoreError,
)
from storage.retry import RetryBudgetExhausted, RetryPolicy, call_with_retry

T = TypeVar("T")

_TRANSIENT_CODES = {
    "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "OperationAborted",
    "XMinioServerNotInitialized", "XMinioStorageFull", "RequestTimeTooSkewed",
}
#: What a server answers when an ``If-None-Match: *`` create finds the key taken.
_CONDITIONAL_LOST = {"PreconditionFailed", "ConditionalRequestConflict"}
_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
#: 5xx answers that say "not now" rather than "never" (501 Not Implemented and 505 HTTP
#: Version Not Supported will not change on a retry).
_PERMANENT_5XX = {501, 505}


def _transient_status(status: int) -> bool:
    return status >= 500 and status not in _PERMANENT_5XX


def _response_status(exc: InvalidResponseError) -> int:
    """The HTTP status of a non-XML answer (minio keeps it in a private field)."""
    code = getattr(exc, "_code", None)
    if isinstance(code, int):
        return code
    found = re.search(r"Response code: (\d+)", str(exc))
    return int(found.group(1)) if found else 0


def is_transient(exc: BaseException) -> bool:
    """Whether retrying ``exc`` can help: network faults, 5xx (501/505 aside), throttling.

    A non-XML answer (InvalidResponseError) is transient only with a 5xx status: a proxy's
    502/503 page while the server restarts. A web page answered with 2xx-4xx means the
    endpoint is not an S3 API, and asking again will not change that."""
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, ServerError):
        return _transient_status(exc.status_code) or exc.status_code == 0
    if isinstance(exc, InvalidResponseError):
        return _transient_status(_response_status(exc))
    if isinstance(exc, S3Error):
        status = getattr(exc.response, "status", 0) or 0
        return exc.code in _TRANSIENT_CODES or _transient_status(status)
    return False


def _cannot_connect(exc: BaseException) -> bool:
    """Whether ``exc`` says no connection could be opened at all (refused, unknown host)."""
    reason = getattr(exc, "reason", None) or exc
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))


def describe_failure(exc: BaseException) -> str:
    """A short phrase for a failed request: "connection refused", "HTTP 503 text/html"...

    urllib3's own messages repeat the pool, the URL and the nested cause over 300
    characters; a user needs only what happened."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "host name not found"
    # NewConnectionError subclasses ConnectTimeoutError (urllib3 2): test it first.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in text.lower() else "cannot connect"
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return "connection timed out"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return "read timed out"
    if isinstance(reason, urllib3.exceptions.SSLError):
        return "TLS error (is the endpoint http:// rather than https://?)"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        return "connection broken"
    if isinstance(exc, InvalidResponseError):
        content_type = getattr(exc, "_content_type", None) or "no content type"
        return f"HTTP {_response_status(exc)} {content_type}"
    if isinstance(exc, S3Error):
        return f"S3 error {exc.code}"
    if isinstance(exc, ServerError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__


def _page_summary(body: str | None, limit: int = 80) -> str:
    """What a web page says about itself: its <title>, else its first words."""
    if not body:
        return "an empty body"
    title = re.search(r"<title[^>]*>(.*?)</title>", body, re.I | re.S)
    text = title.group(1) if title else re.sub(r"<[^>]+>", " ", body)
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


class S3Timeouts(BaseModel):
    """Socket timeouts of an S3 client, from KHO_S3_CONNECT_TIMEOUT_S / KHO_S3_READ_TIMEOUT_S.

    The read timeout bounds how long one attempt waits for a server that accepted the
    connection but answers nothing (a paused or overloaded gateway); only after it does the
    retry policy get a turn. The default suits large objects on a busy MinIO; a deployment
    (or a test) that would rather retry a stalled request sooner lowers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect_s: float = Field(5.0, gt=0, le=600)
    read_s: float = Field(120.0, gt=0, le=3600)

    @classmethod
    def from_env(cls) -> "S3Timeouts":
        """The defaults, overridden by whichever of the two variables is set."""
        return _model_from_env(cls, {"connect_s": "KHO_S3_CONNECT_TIMEOUT_S", "read_s": "KHO_S3_READ_TIMEOUT_S"},
                               "KHO_S3_CONNECT_TIMEOUT_S / KHO_S3_READ_TIMEOUT_S must be seconds > 0 (at most "
                               "600 / 3600)")


def retry_policy_from_env() -> RetryPolicy:
    """The default retry policy, with KHO_S3_RETRY_ATTEMPTS (attempts per request, 1-50) and
    KHO_S3_RETRY_DEADLINE_S (seconds from a request's first attempt after which it is not
    retried again) when set: how long a worker keeps trying a store that does not answer."""
    return _model_from_env(RetryPolicy, {"max_attempts": "KHO_S3_RETRY_ATTEMPTS",
                                         "deadline_s": "KHO_S3_RETRY_DEADLINE_S"},
                           "KHO_S3_RETRY_ATTEMPTS must be a whole number 1-50 and KHO_S3_RETRY_DEADLINE_S "
                           "seconds > 0 (at most 86400)")


M = TypeVar("M", bound=BaseModel)


def _model_from_env(cls: type[M], variables: dict[str, str], rule: str) -> M:
    """``cls`` with its defaults, each field in ``variables`` (field -> environment variable)
    taken from the environment when set; a bad value is a StoreConfigError saying ``rule``."""
    given = {field: os.environ[var] for field, var in variables.items() if os.environ.get(var)}
    try:
        return cls(**given)
    except ValidationError as exc:
        raise StoreConfigError(f"{rule}: {exc.errors()[0]['msg']}") from None


def _env_first(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


class S3Store(ObjectStore):
    """Objects under ``prefix`` in one bucket of an S3-compatible server."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        prefix: str = "",
        *,
        secure: bool = False,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        retry: RetryPolicy | None = None,
        create_bucket: bool = False,
    ) -> None:
        access_key = access_key or _env_first("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER")
        secret_key = secret_key or _env_first("AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD")
        if not access_key or not secret_key:
            raise StoreConfigError(
                f"no credentials for s3 endpoint {endpoint}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY in the environment"
            )
        self.endpoint, self.bucket, self.secure, self.region = endpoint, bucket, secure, region
        self.prefix = prefix.strip("/")
        self.retry = retry or retry_policy_from_env()
        scheme = "https" if secure else "http"
        self.uri = f"s3://{bucket}/{self.prefix}?endpoint={scheme}://{endpoint}".replace("/?", "?")
        # Our own retry loop owns retries; urllib3 must not retry underneath it.
        timeouts = S3Timeouts.from_env()
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeouts.connect_s, read=timeouts.read_s),
            maxsize=32,
            retries=urllib3.Retry(total=0, connect=0, read=0, redirect=3, status=0),
        )
        self._credentials = (access_key, secret_key)
        #: Whether a request has ever got an answer: until then, connection refused is
        #: most likely a wrong endpoint and gets the short first-contact budget.
        self._contacted = False
        #: Whether the server has ever answered as S3 (a success or an S3 error document).
        self._spoke_s3 = False
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                             secure=secure, region=region, http_client=http)
        if create_bucket:
            self._ensure_bucket()

    def __reduce__(self):
        """Pickle without credentials: workers read them from their own environment.

        A copy of a store that has reached its server rides out outages in full at once."""
        return (_reopen, (self.endpoint, self.bucket, self.prefix, self.secure, self.region,
                          self.retry, self._contacted))

    # -- helpers -----------------------------------------------------------------------
    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def endpoint_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    def _attempts_for(self, exc: BaseException) -> int:
        if not self._contacted and _cannot_connect(exc):
            return min(self.retry.first_contact_attempts, self.retry.max_attempts)
        return self.retry.max_attempts

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        """Run one SDK call with retries; turn whatever it raises into a typed StoreError."""
        target = f"{what} s3://{self.bucket}/{key}"
        try:
            result = call_with_retry(fn, is_transient=is_transient, policy=self.retry,
                                     what=target, attempts_for=self._attempts_for,
                                     describe=describe_failure)
        except RetryBudgetExhausted as out:
            self._contacted = self._contacted or not _cannot_connect(out.last)
            raise self._gave_up(target, out) from None
        except S3Error as exc:
            self._contacted = self._spoke_s3 = True
            raise self._translate(exc, key) from None
        except InvalidResponseError as exc:
            self._contacted = True
            raise self._not_s3(target, exc) from None
        self._contacted = self._spoke_s3 = True
        return result

    def _gave_up(self, target: str, out: RetryBudgetExhausted) -> StoreError:
        """One line naming the endpoint, what kept happening and for how long."""
        cause = describe_failure(out.last)
        tried = f"{out.attempts} attempts over {out.elapsed_s:.1f}s" + (
            f" (KHO_S3_RETRY_DEADLINE_S={out.deadline_s:g})" if out.deadline_s is not None else "")
        reason = getattr(out.last, "reason", None) or out.last
        # ConnectTimeoutError covers refused and unknown hosts too (NewConnectionError).
        if isinstance(reason, (urllib3.exceptions.ConnectTimeoutError, ConnectionRefusedError)):
            hint = ("check that the server is running and that the endpoint's host and port "
                    "are right, then rerun")
            return StoreUnreachableError(
                f"cannot reach S3 endpoint {self.endpoint_url} ({cause}) for {target}: gave up "
                f"after {tried}; {hint}")
        return TransientStoreError(
            f"{target} on {self.endpoint_url} kept failing ({cause}); gave up after {tried}: "
            "check that the server is up and healthy, then rerun")

    def _not_s3(self, target: str, exc: InvalidResponseError) -> EndpointNotS3Error:
        """A web page where an S3 answer should be: say what answered, and what to check."""
        content_type = getattr(exc, "_content_type", None) or "without a content type"
        answer = (f"HTTP {_response_status(exc)} {content_type} "
                  f"({_page_summary(getattr(exc, '_body', None))})")
        if self._spoke_s3:  # it spoke S3 before: something in between answered this time
            return EndpointNotS3Error(
                f"{self.endpoint_url} answered {target} with a web page, not S3: {answer}; a "
                "proxy or load balancer in front of the S3 server may be refusing the request")
        return EndpointNotS3Error(
            f"{self.endpoint_url} does not speak S3: it answered {target} with {answer}; "
            "check the endpoint: it must be the S3 API's host:port (MinIO's API port, not its "
            "web console)")

    def _translate(self, exc: S3Error, key: str) -> Exception:
        if exc.code in ("NoSuchKey",):
            return ObjectNotFoundError(f"no object {key!r} in {self.uri}")
        if exc.code == "NoSuchBucket":
            return BucketNotFoundError(
                f"bucket {self.bucket!r} does not exist on {self.endpoint_url}: create it with "
                f"`mc mb ALIAS/{self.bucket}` or your S3 console (or open the store with "
                "create_bucket=True in code), or fix the bucket name in the store URI"
            )
        if exc.code in _AUTH_CODES:
            return StoreAuthError(
                f"{self.endpoint} rejected the credentials ({exc.code}): check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy"
            )
        if is_transient(exc):
            return TransientStoreError(f"s3 error {exc.code} on {key!r} outlived the retries")
        return exc

    def _ensure_bucket(self) -> None:
        def make() -> None:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket, location=self.region) if self.region \
                    else self._client.make_bucket(self.bucket)

        self._call("create bucket", "", make)

    # -- interface ---------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        name = self._name(key)
        self._call("put", key, lambda: self._client.put_object(
            self.bucket, name, io.BytesIO(data), len(data), content_type=content_type))

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Conditional create with ``If-None-Match: *`` (MinIO, AWS S3 and SeaweedFS enforce it).

        The header goes out through the SDK's low-level PUT: ``put_object`` would turn it into
        ``x-amz-meta-*`` metadata. A retried request that already succeeded answers 412 on the
        retry, so after a 412 the stored bytes are compared with ours to tell the two apart."""
        name = self._name(key)
        headers = {"If-None-Match": "*", "Content-Type": content_type}
        try:
            self._call("conditional put", key,
                       lambda: self._client._put_object(self.bucket, name, data, headers=headers))
        except S3Error as exc:
            if exc.code in _CONDITIONAL_LOST:
                return self._conditional_was_ours(key, data)
            raise
        return True

    def _conditional_was_ours(self, key: str, data: bytes) -> bool:
        try:
            return self.get_bytes(key) == data
        except ObjectNotFoundError:
            return False

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        name = self._name(key)
        self._call("upload", key, lambda: self._client.fput_object(
            self.bucket, name, str(path), content_type=content_type,
            part_size=MULTIPART_PART_SIZE))

    def get_bytes(self, key: str) -> bytes:
        name = self._name(key)

        def read() -> bytes:
            resp = self._client.get_object(self.bucket, name)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return self._call("get", key, read)

    def open_read(self, key: str) -> BinaryIO:
        name = self._name(key)
        resp = self._call("open", key, lambda: self._client.get_object(self.bucket, name))
        return _ResponseReader(resp)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """One ``Range: bytes=start-end`` GET through the retry wrapper; a range that starts
        at or past the end of the object (S3 answers 416 InvalidRange) is empty, as locally."""
        check_range(start, length)
        name = self._name(key)
        if length == 0:  # minio would send no end, i.e. ask for the rest of the object
            self.stat(key)
            return b""

        def read() -> bytes:
            resp = self._client.get_object(self.bucket, name, offset=start, length=length)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        try:
            return self._call("ranged get", key, read)
        except S3Error as exc:
            if exc.code == "InvalidRange":
                return b""
            raise

    def download(self, key: str, path: Path) -> None:
        name = self._name(key)
        self._call("download", key, lambda: self._client.fget_object(self.bucket, name, str(path)))

    def stat(self, key: str) -> ObjectInfo:
        name = self._name(key)
        st = self._call("stat", key, lambda: self._client.stat_object(self.bucket, name))
        return ObjectInfo(key, int(st.size or 0), st.last_modified)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        name = self._name(key)
        self._call("delete", key, lambda: self._client.remove_object(self.bucket, name))

    def url(self, key: str, expires_s: int = 3600) -> str:
        name = self._name(key)
        return self._call("presign", key, lambda: self._client.presigned_get_object(
            self.bucket, name, expires=timedelta(seconds=expires_s)))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        full = self._name(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        cut = len(self.prefix) + 1 if self.prefix else 0
        objects = self._call("list", prefix, lambda: list(
            self._client.list_objects(self.bucket, prefix=full, recursive=True)))
        for obj in objects:
            yield ObjectInfo(obj.object_name[cut:], int(obj.size or 0), obj.last_modified)

    def list_children(self, prefix: str) -> list[str]:
        base = prefix.rstrip("/") + "/" if prefix else ""
        full = (f"{self.prefix}/{base}" if self.prefix else base)
        objects = self._call("list", prefix, lambda: list(
            self._client.list_objects(self.bucket, prefix=full, recursive=False)))
        return sorted(o.object_name[len(full):].rstrip("/") for o in objects)

    def arrow_filesystem(self) -> tuple[object, str]:
        import pyarrow.fs as pafs

        access, secret = self._credentials
        fs = pafs.S3FileSystem(access_key=access, secret_key=secret,
                               endpoint_override=self.endpoint,
                               scheme="https" if self.secure else "http",
                               region=self.region or "us-east-1")
        return fs, f"{self.bucket}/{self.prefix}".rstrip("/")


class _ResponseReader(io.RawIOBase):
    """A file-like view of a streaming GET that returns its connection when closed."""

    def __init__(self, resp) -> None:
        self._resp = resp

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self._resp.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
            self._resp.release_conn()
        super().close()


def _reopen(endpoint, bucket, prefix, secure, region, retry, contacted=False) -> S3Store:
    store = S3Store(endpoint, bucket, prefix, secure=secure, region=region, retry=retry)
    store._contacted = contacted
    return store


def parse_s3_uri(uri: str, retry: RetryPolicy | None = None, create_bucket: bool = False) -> S3Store:
    """Open ``s3://bucket[/prefix][?endpoint=http://host:port&region=R]``.

    Without ``endpoint=`` the endpoint comes from KHO_S3_ENDPOINT or AWS_ENDPOINT_URL.
    """
    parsed = urlparse(uri)
    if parsed.username or parsed.password:
        raise StoreConfigError(
            "credentials in a store URI are not accepted (they would end up in logs): "
            "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead"
        )
    if not parsed.hostname:
        raise StoreConfigError(f"s3 store URI {uri!r} names no bucket: use s3://BUCKET/PREFIX")
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    endpoint = query.get("endpoint") or _env_first("KHO_S3_ENDPOINT", "AWS_ENDPOINT_URL")
    if not endpoint:
        raise StoreConfigError(
            f"no endpoint for {uri!r}: add ?endpoint=http://HOST:PORT or set KHO_S3_ENDPOINT"
        )
    ep = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
    secure = ep.scheme == "https"
    region = query.get("region") or _env_first("AWS_REGION", "AWS_DEFAULT_REGION")
    return S3Store(ep.netloc, parsed.hostname, parsed.path, secure=secure, region=region,
                   retry=retry, create_bucket=create_bucket)
