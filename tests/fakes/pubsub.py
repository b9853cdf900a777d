"""An in-process gRPC fake of the Pub/Sub Publisher service, for the real PublisherClient.

Point the client at it with ``PUBSUB_EMULATOR_HOST=fake.host`` (and ``NO_GCE_CHECK=true``);
``google.cloud.pubsub_v1.PublisherClient`` then opens an insecure channel with anonymous
credentials and its ``Publish`` RPCs land here::

    fake = FakePubSub().start()
    fake.host          # "127.0.0.1:PORT"
    fake.messages      # [(topic, data, attributes), ...] in arrival order
    fake.hang = True   # Publish blocks until hang=False, stop(), the caller's deadline or 30 s
    fake.fail_with = grpc.StatusCode.UNAVAILABLE   # Publish aborts with that code
    fake.stop()

Note: the real client retries UNAVAILABLE (and DEADLINE_EXCEEDED, INTERNAL, ...) for up to
600 s by default (60 s per attempt), and a float ``timeout=`` alone does not shorten that. A
caller that must not wait has to pass ``retry=None, timeout=T`` or a ``Retry(timeout=T)``.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
from google.pubsub_v1.types import GetTopicRequest, PublishRequest, PublishResponse, Topic

SERVICE = "google.pubsub.v1.Publisher"
HANG_LIMIT_SECONDS = 30.0


class FakePubSub:
    """A gRPC server on 127.0.0.1:<free port> implementing Publish, GetTopic and CreateTopic."""

    def __init__(self, *, max_workers: int = 8):
        self._lock = threading.Lock()
        self._messages: list[tuple[str, bytes, dict[str, str]]] = []
        self._topics: set[str] = set()
        self._next_id = 0
        self._released = threading.Event()
        self.hang = False
        self.fail_with: grpc.StatusCode | None = None
        self.publish_calls = 0  # every Publish RPC received, including failed or hung ones
        self._executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fake-pubsub")
        self._server = grpc.server(self._executor)
        self._server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "Publish": grpc.unary_unary_rpc_method_handler(
                            self._publish,
                            request_deserializer=PublishRequest.deserialize,
                            response_serializer=PublishResponse.serialize,
                        ),
                        "GetTopic": grpc.unary_unary_rpc_method_handler(
                            self._get_topic,
                            request_deserializer=GetTopicRequest.deserialize,
                            response_serializer=Topic.serialize,
                        ),
                        "CreateTopic": grpc.unary_unary_rpc_method_handler(
                            self._create_topic,
                            request_deserializer=Topic.deserialize,
                            response_serializer=Topic.serialize,
                        ),
                    },
                ),
            )
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.host = f"127.0.0.1:{self.port}"
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> "FakePubSub":
        self._server.start()
        self._started = True
        return self

    def stop(self, grace: float = 1.0) -> None:
        """Release any hung Publish, stop the server and shut the worker pool down.

        A released Publish is answered FAILED_PRECONDITION (outside the client's retry
        predicate), so a caller's future fails at once instead of retrying against a closed
        port. `grace` only lets those answers go out: stop returns as soon as no RPC is in
        flight, so it is normally immediate; pass 0 to cancel in-flight RPCs outright."""
        self._released.set()
        if self._started:
            self._server.stop(grace=grace).wait(timeout=10)
            self._started = False
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "FakePubSub":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- recorded state -------------------------------------------------------------------

    @property
    def messages(self) -> list[tuple[str, bytes, dict[str, str]]]:
        """A snapshot of every published message: (topic, data, attributes)."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[tuple[str, bytes, dict[str, str]]]:
        """Poll until at least `count` messages arrived (or `timeout`); returns the snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.messages
            if len(snapshot) >= count or time.monotonic() >= deadline:
                return snapshot
            time.sleep(0.02)

    # -- handlers -------------------------------------------------------------------------

    def _hold(self, context: grpc.ServicerContext) -> bool:
        """Block while `hang` is set. True if `hang` was cleared (carry on), False if the wait
        ended because of stop(), the caller giving up (deadline/cancel) or the 30 s bound."""
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        while self.hang:
            if self._released.is_set() or not context.is_active() or time.monotonic() >= deadline:
                return False
            self._released.wait(0.05)
        return True

    def _publish(self, request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
        with self._lock:
            self.publish_calls += 1
        if not self._hold(context):
            # Never recorded. FAILED_PRECONDITION is outside the client's retry predicate.
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "fake Pub/Sub: hung publish released")
        code = self.fail_with
        if code is not None:
            context.abort(code, f"fake Pub/Sub: {code.name}")
        ids = []
        with self._lock:
            self._topics.add(request.topic)
            for message in request.messages:
                self._next_id += 1
                ids.append(str(self._next_id))
                self._messages.append((request.topic, bytes(message.data), dict(message.attributes)))
        return PublishResponse(message_ids=ids)

    def _get_topic(self, request: GetTopicRequest, context: grpc.ServicerContext) -> Topic:
        code = self.fail_with
        if code is not None:
            context.abort(code, f"fake Pub/Sub: {code.name}")
        return Topic(name=request.topic)

    def _create_topic(self, request: Topic, context: grpc.ServicerContext) -> Topic:
        code = self.fail_with
        if code is not None:
            context.abort(code, f"fake Pub/Sub: {code.name}")
        with self._lock:
            if request.name in self._topics:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, "Topic already exists")
            self._topics.add(request.name)
        return Topic(name=request.name)
