"""Limits on what a request body may be, applied to every route before any of it is parsed.

Two limits, both answered with the API's error body:
- size: more than `server.max_body_bytes` (default 10 MiB) is 413, whether declared in Content-Length (refused
  before a byte is read) or streamed;
- nesting: JSON nested more than `MAX_JSON_DEPTH` levels is 422. Python's json parser recurses once per level
  and raises RecursionError near 1000 levels (a 500 before this check); no body this API accepts needs more
  than 4 levels (`{"records": [{"input_features": {...}}]}`), so 32 leaves room for nested feature values.

The limits are an ASGI middleware that wraps `receive`, so a route that never reads its body costs nothing,
and the route (push's own streaming 413 check, FastAPI's JSON parsing) sees the same bytes as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
from starlette.exceptions import HTTPException

MAX_JSON_DEPTH = 32

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (0 for a scalar), without parsing it.

    Brackets inside strings do not count. For text that is not JSON the number is meaningless but finite,
    and the parser that reads the body next reports what is wrong with it. Byte-string operations (C speed)
    drop escapes and everything but quotes and brackets, and numpy walks what is left: 7 ms of CPU for a
    10k-record push of 2 MiB, a third of what json.loads then takes (a regex over the strings took longer
    than the parse itself).
    """
    opens = body.count(b"[") + body.count(b"{")
    if opens <= MAX_JSON_DEPTH:
        return opens  # an upper bound (brackets in strings included), and within the limit
    if b"\\" in body:
        # Escapes only occur inside strings. Dropping each escaped backslash pair first (left to right, as
        # a run of them reads) leaves exactly the backslashes that escape a quote, which go with it.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(body.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    quotes = codes == ord('"')
    inside = (np.cumsum(quotes) - quotes) % 2 == 1  # after an odd number of quotes: in a string
    step = np.zeros(codes.size, dtype=np.int32)
    step[((codes == ord("[")) | (codes == ord("{"))) & ~inside] = 1
    step[((codes == ord("]")) | (codes == ord("}"))) & ~inside] = -1
    return int(np.cumsum(step).max(initial=0))


def _error_body(code: str, detail: str) -> bytes:
    return json.dumps({"error": code, "detail": detail}).encode()


class BodyLimits:
    """ASGI middleware: refuse bodies over `max_bytes` (413) or nested over `MAX_JSON_DEPTH` (422)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Refused before reading: the client may still be sending, so the connection is closed after.
            body = _error_body(
                "payload_too_large",
                f"the body is {declared} bytes; this server accepts at most {self.max_bytes}",
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, _Checked(receive, self.max_bytes), send)


class _Checked:
    """A `receive` that counts the body's bytes and checks its nesting once it is complete."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self._size = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise HTTPException(
                413, f"the body is over {self._max_bytes} bytes, the most this server accepts"
            )
        if chunk:
            self._chunks.append(chunk)
        if not message.get("more_body", False):
            body = b"".join(self._chunks)
            self._chunks = []
            depth = json_depth(body)
            if depth > MAX_JSON_DEPTH:
                raise HTTPException(
                    422,
                    f"the JSON body nests {depth} levels deep; this server accepts at most {MAX_JSON_DEPTH}",
                )
        return message


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
