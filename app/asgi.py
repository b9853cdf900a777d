"""The production server's front: an asyncio loop reads each whole request, then the Flask app runs on a thread.

gunicorn's gthread worker reads a request on one of its threads: 32 clients sending their
headers or body a byte at a time hold all 32 threads, and every alert waits behind them.
Here gunicorn's asyncio (`asgi`) worker reads headers, and `BufferedBody` the whole body, in
the event loop, where a slow client costs a coroutine, not a thread; only a complete request
reaches a2wsgi's thread pool, where the threaded Flask app runs as before. Run it with
`gunicorn --worker-class asgi 'app.asgi:create_asgi_app()'` (the Dockerfile's CMD).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from a2wsgi import WSGIMiddleware

from app import MAX_BODY_BYTES, create_app

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

# Every alert of a burst gets a thread at once (20 alerts at one bar close share their quote calls
# only then), and so do the orders that wait after their answer for a rate-limit slot, each holding
# its thread while it sleeps in the pacer: with 32, a 40-alert burst left 8 alerts queued for a
# thread, answered after 3.6 s (docs/benchmarks.md). Waiting threads cost memory, not CPU.
APP_THREADS = 64


class BufferedBody:
    """ASGI middleware: read the whole body (up to `limit` + 1 bytes) before the app is called."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        """Hand the app a request whose body is already here; a client gone meanwhile is dropped."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # gone, or the server's body wait expired
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            # Past the limit the app answers 413 from what it has; reading on would let a client
            # make us hold any amount.
            if not message.get("more_body", False) or size > self.limit:
                break
        body = b"".join(chunks)
        await self.app(_with_length(scope, len(body)), _replay(body, receive), send)


def _with_length(scope: Message, length: int) -> Message:
    """The scope with a Content-Length: a chunked body is whole now, and WSGI (werkzeug) reads a
    body without Content-Length as empty unless the server says the input is terminated."""
    headers = scope.get("headers", [])
    if any(name == b"content-length" for name, _ in headers):
        return scope
    kept = [(name, value) for name, value in headers if name != b"transfer-encoding"]
    return {**scope, "headers": [*kept, (b"content-length", str(length).encode("ascii"))]}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body in one message, then defers to the server's."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def create_asgi_app(settings=None, services=None) -> ASGIApp:
    """The Flask app behind a thread pool, behind whole-request buffering."""
    return BufferedBody(WSGIMiddleware(create_app(settings, services), workers=APP_THREADS), MAX_BODY_BYTES)
