"""Bearer-token access: writes always need the token; reads need it only with `public_reads: false`.

The token comes from the environment variable named by `server.token_env` (read once, when the app is built,
and passed in; never read at import). It is held in a `Secret`, compared in constant time, and never logged
or echoed: a wrong token gets the same answer as a missing one.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

from fastapi import Request

from driftwatch.alerting.secret import Secret
from driftwatch.api.errors import Unauthorized


class TokenAuth:
    def __init__(self, token: Secret | None, env_name: str, public_reads: bool) -> None:
        self._token = token if token is not None and token.reveal() else None
        self.env_name = env_name
        self.public_reads = public_reads

    @classmethod
    def from_environment(
        cls, env_name: str, public_reads: bool, environ: Mapping[str, str] | None = None
    ) -> TokenAuth:
        value = (os.environ if environ is None else environ).get(env_name, "")
        return cls(Secret(value) if value else None, env_name, public_reads)

    @property
    def configured(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:
        return f"TokenAuth(env={self.env_name!r}, configured={self.configured}, public_reads={self.public_reads})"

    def check(self, request: Request) -> None:
        if self._token is None:
            raise Unauthorized(
                f"this server has no API token: set the environment variable {self.env_name} and restart "
                "to enable this endpoint"
            )
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        expected = self._token.reveal().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise Unauthorized("missing or wrong token: send 'Authorization: Bearer <token>'")

    def require_write(self, request: Request) -> None:
        """FastAPI dependency for endpoints that change data."""
        self.check(request)

    def require_read(self, request: Request) -> None:
        """FastAPI dependency for reads: open unless `public_reads: false`."""
        if not self.public_reads:
            self.check(request)
