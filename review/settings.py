"""Settings of the review web app (``kho review serve``), one validated pydantic model.

Defaults are safe for one annotator on a laptop: the app listens on the loopback address,
cookies are HttpOnly and SameSite=Strict, and they become Secure as soon as TLS is set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReviewSettings(BaseModel):
    """How the review app listens, how long sessions last and how logins are limited.

    - ``host`` / ``port``: where uvicorn listens; a host other than a loopback address needs
      ``tls_cert`` + ``tls_key`` or ``allow_insecure_remote`` (see :mod:`review.serve`).
    - ``session_ttl_s``: a session cookie's lifetime; the server forgets it afterwards.
    - ``login_rate``: failed logins allowed per minute for one (name, client address) pair.
    - ``secure_cookies``: send cookies only over HTTPS; None means "when TLS is set".
    - ``presign_s``: lifetime of the presigned URLs handed out for media on S3.
    - ``per_queue`` / ``seed`` / ``double_share``: defaults of the queue form.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_insecure_remote: bool = False
    session_ttl_s: int = Field(8 * 3600, ge=60, le=30 * 24 * 3600)
    login_rate: int = Field(5, ge=1, le=1000)
    secure_cookies: bool | None = None
    presign_s: int = Field(300, ge=10, le=24 * 3600)
    per_queue: int = Field(50, ge=1, le=10_000)
    seed: int = 0
    double_share: float = Field(0.2, ge=0.0, le=1.0)
    raw_preview_bytes: int = Field(16 * 1024, ge=256, le=1024 * 1024)

    @model_validator(mode="after")
    def _tls_pair(self) -> "ReviewSettings":
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both --tls-cert and --tls-key (a certificate and its "
                             "private key), or neither")
        return self

    @property
    def tls(self) -> bool:
        """Whether the app itself terminates TLS."""
        return self.tls_cert is not None

    @property
    def cookies_secure(self) -> bool:
        """Whether cookies carry the Secure flag: as set, else exactly when TLS is on."""
        return self.tls if self.secure_cookies is None else self.secure_cookies
