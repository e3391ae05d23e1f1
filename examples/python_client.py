"""A small typed Python client for the API, built on httpx (docs/reference/api.md).

Copy this file into your project (it needs only ``httpx``) or use it as a pattern:

    with ApiClient("http://127.0.0.1:8000") as api:
        api.sign_up("ada@example.com", "correct horse battery staple 42")
        api.login("ada@example.com", "correct horse battery staple 42")
        print(api.me().email)

Every non-2xx answer raises :class:`ApiError`, parsed from the error envelope
``{"error": {"code", "message", "request_id", "details"}}`` (ADR-0005), so callers
branch on ``err.code`` (``"conflict"``, ``"forbidden"``, ``"rate_limited"``...) instead of
status numbers or message text. ``python examples/python_client.py [BASE_URL]`` runs a demo.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

API_PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class User:
    """The public user shape (never carries a password hash)."""

    id: str
    email: str
    is_active: bool
    is_superuser: bool
    is_verified: bool
    created_at: str
    updated_at: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(
            id=str(data["id"]),
            email=str(data["email"]),
            is_active=bool(data["is_active"]),
            is_superuser=bool(data["is_superuser"]),
            is_verified=bool(data["is_verified"]),
            created_at=str(data["created_at"]),
            updated_at=str(data["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer access token from ``POST /api/v1/auth/login``."""

    access_token: str
    token_type: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The ``X-RateLimit-*`` headers of a response (present only when rate limiting is on)."""

    limit: int
    remaining: int
    reset: int

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        try:
            return cls(
                limit=int(headers["X-RateLimit-Limit"]),
                remaining=int(headers["X-RateLimit-Remaining"]),
                reset=int(float(headers["X-RateLimit-Reset"])),
            )
        except (KeyError, ValueError):
            return None


class ApiError(Exception):
    """A non-2xx answer, parsed from the API's error envelope."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status_code} {code}: {message} (request_id={request_id})")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Parse the envelope; anything else (a proxy's HTML page...) becomes ``unexpected``."""
        retry_after = _float_or_none(response.headers.get("Retry-After"))
        request_id = response.headers.get("X-Request-ID")
        try:
            error = response.json()["error"]
            return cls(
                status_code=response.status_code,
                code=str(error["code"]),
                message=str(error["message"]),
                request_id=str(error.get("request_id") or request_id),
                details=error.get("details"),
                retry_after=retry_after,
            )
        except (ValueError, KeyError, TypeError):
            return cls(
                status_code=response.status_code,
                code="unexpected",
                message=response.text[:200] or response.reason_phrase,
                request_id=request_id,
                retry_after=retry_after,
            )


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ApiClient:
    """Synchronous client. Holds one connection pool and, after :meth:`login`, a token."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API_PREFIX, timeout=timeout, transport=transport
        )
        self.token: Token | None = None
        #: Rate-limit headers of the last response, if the server sent them.
        self.last_rate_limit: RateLimit | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- endpoints ------------------------------------------------------------
    def ready(self) -> dict[str, Any]:
        """``GET /api/v1/health/ready`` (a 503 raises :class:`ApiError`)."""
        return self._json("GET", "/health/ready")

    def sign_up(self, email: str, password: str) -> User:
        """``POST /api/v1/users``; ``ApiError`` code ``conflict`` if the email is taken."""
        return User.from_json(
            self._json("POST", "/users", json={"email": email, "password": password})
        )

    def login(self, email: str, password: str) -> Token:
        """``POST /api/v1/auth/login`` (OAuth2 form); later calls send the token."""
        data = self._json("POST", "/auth/login", data={"username": email, "password": password})
        self.token = Token(
            access_token=str(data["access_token"]),
            token_type=str(data["token_type"]),
            expires_in=int(data["expires_in"]),
        )
        return self.token

    def me(self) -> User:
        """``GET /api/v1/users/me``."""
        return User.from_json(self._json("GET", "/users/me"))

    def get_user(self, user_id: str) -> User:
        """``GET /api/v1/users/{id}``: yourself, or anyone if you are a superuser."""
        return User.from_json(self._json("GET", f"/users/{user_id}"))

    def change_password(self, current: str, new: str) -> None:
        """``POST /api/v1/auth/password``. Every token issued so far stops working, this
        client's included (it is dropped): log in again with ``new``."""
        body = {"current_password": current, "new_password": new}
        self._send("POST", "/auth/password", json=body)
        self.token = None

    # --- plumbing -------------------------------------------------------------
    def request_password_reset(self, email: str) -> str:
        """``POST /auth/password-reset``: always 202 with the same message (no enumeration);
        the link arrives by mail."""
        return str(self._json("POST", "/auth/password-reset", json={"email": email})["detail"])

    def confirm_password_reset(self, token: str, new_password: str) -> None:
        """``POST /auth/password-reset/confirm``: every session ends; the client drops its token."""
        body = {"token": token, "new_password": new_password}
        self._send("POST", "/auth/password-reset/confirm", json=body)
        self.token = None

    def verify_email(self, token: str) -> None:
        """``POST /auth/verify-email`` with the token of the mailed link."""
        self._send("POST", "/auth/verify-email", json={"token": token})

    def resend_verification(self) -> None:
        """``POST /auth/verify-email/resend`` (bearer): a new link, the older ones die."""
        self._send("POST", "/auth/verify-email/resend")

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.access_token}"
        response = self._http.request(method, path, headers=headers, **kwargs)
        self.last_rate_limit = RateLimit.from_headers(response.headers)
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._send(method, path, **kwargs).json()
        return body


def _expect_error(code: str, error: ApiError | None) -> ApiError:
    if error is None or error.code != code:
        raise SystemExit(f"FAIL: expected an ApiError with code {code!r}, got {error!r}")
    return error


def demo(base_url: str) -> None:
    """Sign up two users, log in, read yourself, fail to read the other, change the
    password; print each step."""
    run_id = secrets.token_hex(4)
    password = "correct horse battery staple 42"  # pragma: allowlist secret - example only
    alice_email, bob_email = f"alice-{run_id}@example.com", f"bob-{run_id}@example.com"
    with ApiClient(base_url) as api:
        print("ready:", api.ready())
        alice = api.sign_up(alice_email, password)
        bob = api.sign_up(bob_email, password)
        print(f"signed up {alice.email} ({alice.id}) and {bob.email} ({bob.id})")

        token = api.login(alice_email, password)
        print(f"logged in: {token.token_type} token, expires in {token.expires_in}s")
        me = api.me()
        if me.id != alice.id:
            raise SystemExit(f"FAIL: /users/me returned {me.id}, expected {alice.id}")
        print(f"me: {me.email} superuser={me.is_superuser}")
        print("rate limit:", api.last_rate_limit or "off on this server")

        error: ApiError | None = None
        try:
            api.get_user(bob.id)
        except ApiError as exc:
            error = exc
        forbidden = _expect_error("forbidden", error)
        print(f"reading bob: {forbidden.status_code} {forbidden.code} ({forbidden.request_id})")

        error = None
        try:
            api.sign_up(alice_email.upper(), password)
        except ApiError as exc:
            error = exc
        conflict = _expect_error("conflict", error)
        print(f"signing up again: {conflict.status_code} {conflict.code}: {conflict.message}")

        new_password = "another horse battery staple 43"  # pragma: allowlist secret - example
        api.change_password(password, new_password)
        api.token = token  # the token from before the change
        error = None
        try:
            api.me()
        except ApiError as exc:
            error = exc
        revoked = _expect_error("unauthorized", error)
        print(f"password changed; the old token: {revoked.status_code} {revoked.code}")
        api.login(alice_email, new_password)
        print(f"logged in again with the new password: me = {api.me().email}")
        _mail_steps(api, alice_email)
    print("python client: all steps answered as documented")


def _mail_steps(api: ApiClient, email: str) -> None:
    """Verify the address and reset the password with the mailed links, read from the
    server output named by ``MAIL_LOG`` (``make examples``: the console mail backend)."""
    log = os.environ.get("MAIL_LOG")
    if not log:
        print("MAIL_LOG is not set: skipping verification and reset (docs/jobs-and-mail.md)")
        return
    from mail_link import wait_for_token  # examples/mail_link.py: the demo's helper only

    first = wait_for_token(log, email, "verify-email")
    api.resend_verification()  # a new link: the first one dies
    token = wait_for_token(log, email, "verify-email", after=first)
    error: ApiError | None = None
    try:
        api.verify_email(first)
    except ApiError as exc:
        error = exc
    print(f"the older verification link: {_expect_error('invalid_token', error).status_code}")
    api.verify_email(token)
    if not api.me().is_verified:
        raise SystemExit("FAIL: is_verified is still false after verifying")
    print("address verified: me.is_verified = True")

    print("reset requested:", api.request_password_reset(email))
    reset = wait_for_token(log, email, "reset-password")
    reset_password = "a reset horse battery staple 46"  # pragma: allowlist secret - example
    api.confirm_password_reset(reset, reset_password)
    api.login(email, reset_password)
    print(f"password reset with the mailed link; logged in: me = {api.me().email}")


if __name__ == "__main__":
    demo(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BASE_URL", "http://127.0.0.1:8000"))
