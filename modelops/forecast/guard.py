"""Limits in front of the forecasting API, as plain ASGI middleware: a request body larger than MAX_BODY
is answered 413 before it is read whole, and past a few requests in progress per usable core (forecasting
is CPU-bound: more at once only lengthens every answer) a new one gets 503 with Retry-After instead of
waiting in an unbounded queue."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

MAX_BODY = 1 << 20            # 1 MiB: thousands of rows
IN_FLIGHT_PER_CORE = 4
RETRY_AFTER_S = 1

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _answer(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: Callable, max_body: int = MAX_BODY, max_in_flight: int | None = None):
        from modelops.machine import usable_cpus

        self.app, self.max_body = app, max_body
        self.max_in_flight = max_in_flight or IN_FLIGHT_PER_CORE * usable_cpus().count
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await _answer(send, 413, f"request body over {self.max_body} bytes")
        if self.in_flight >= self.max_in_flight:
            return await _answer(send, 503, f"{self.in_flight} requests in progress; retry shortly",
                                 [(b"retry-after", str(RETRY_AFTER_S).encode())])
        self.in_flight += 1
        try:
            body = await self._body(receive)
            if body is None:
                return await _answer(send, 413, f"request body over {self.max_body} bytes")
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.in_flight -= 1

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body (a JSON request is parsed whole anyway), or None once it passes the limit — also
        when it is sent without a length (chunked)."""
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b""
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > self.max_body:
                return None
            if not message.get("more_body"):
                return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
