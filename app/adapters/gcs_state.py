"""State in Google Cloud Storage, shared by every Cloud Run instance.

Generation preconditions give the two atomic writes the services need without a database:
`if_generation_match=0` is create-only (the idempotency claim) and `=N` a compare-and-swap.
A write the client retried may have succeeded the first time and then fail its own
precondition (412): the object is re-read, and a write that finds its own data there is a
success, not a conflict.

A conditional delete is done as a compare-and-swap to a tombstone, then a plain delete:
uploads are where preconditions are honoured everywhere (fake-gcs-server ignores them on
delete), and a tombstone left by a crash reads as absent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from app.domain.errors import StateUnavailable
from app.ports import StateStore, Versioned

_DELETED = "__deleted__"  # marks a tombstone; its value is unique to the deleter
CALL_TIMEOUT = (1.0, 2.0)  # connect, read: state writes sit on an alert's 3-second path
RETRY_BUDGET = 2.0  # seconds of retries for one operation
_RETRY = DEFAULT_RETRY.with_timeout(RETRY_BUDGET)
_UNAVAILABLE = (
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.GatewayTimeout,
    gexc.BadGateway,
    gexc.RetryError,
    gexc.Forbidden,
    gexc.Unauthorized,
)


class GcsStateStore(StateStore):
    """JSON objects in one bucket; Application Default Credentials (or the emulator)."""

    def __init__(self, bucket_name: str, client: storage.Client | None = None):
        self._client = client or storage.Client()
        self._bucket = self._client.bucket(bucket_name)

    def get(self, key: str) -> Versioned | None:
        """The object at `key` and its generation, or None."""
        found = self._read(key)
        return None if found is None or _DELETED in found.data else found

    def create(self, key: str, data: dict[str, Any]) -> int | None:
        """Create-only write (`if_generation_match=0`)."""
        generation = self._write(key, data, 0)
        if generation is None:
            current = self._read(key)
            if current is not None and _DELETED in current.data:
                return self._write(key, data, current.generation)
        return generation

    def replace(self, key: str, data: dict[str, Any], generation: int) -> int | None:
        """Compare-and-swap write (`if_generation_match=generation`)."""
        return self._write(key, data, generation)

    def delete(self, key: str, generation: int | None = None) -> bool:
        """Delete, at `generation` when given: only one of two racing deleters wins."""
        if generation is None:
            current = self.get(key)
            if current is None:
                return False
            generation = current.generation
        # A tombstone unique to this call: a racing deleter cannot mistake it for its own.
        tombstone = self._write(key, {_DELETED: uuid.uuid4().hex}, generation)
        if tombstone is None:
            return False
        try:
            self._bucket.blob(key).delete(
                if_generation_match=tombstone, timeout=CALL_TIMEOUT, retry=_RETRY
            )
        except (gexc.NotFound, gexc.PreconditionFailed):
            pass  # already gone, or re-created: either way our delete has happened
        except (*_UNAVAILABLE, OSError):
            pass  # the tombstone already reads as absent
        return True

    def list(self, prefix: str) -> list[str]:
        """Object names under `prefix`, sorted."""
        try:
            blobs = self._client.list_blobs(
                self._bucket, prefix=prefix, timeout=CALL_TIMEOUT, retry=_RETRY
            )
            return sorted(blob.name for blob in blobs)
        except (*_UNAVAILABLE, OSError) as error:
            raise StateUnavailable(f"state store unreachable listing {prefix}: {type(error).__name__}") from None

    def _read(self, key: str) -> Versioned | None:
        blob = self._bucket.blob(key)
        try:
            raw = blob.download_as_bytes(timeout=CALL_TIMEOUT, retry=_RETRY)
        except gexc.NotFound:
            return None
        except (*_UNAVAILABLE, OSError) as error:
            raise StateUnavailable(f"state store unreachable reading {key}: {type(error).__name__}") from None
        return Versioned(json.loads(raw), int(blob.generation))

    def _write(self, key: str, data: dict[str, Any], generation: int) -> int | None:
        blob = self._bucket.blob(key)
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True)
        try:
            blob.upload_from_string(
                payload,
                content_type="application/json",
                if_generation_match=generation,
                timeout=CALL_TIMEOUT,
                retry=_RETRY,
            )
        except gexc.PreconditionFailed:
            # Either someone else wrote first, or our own earlier attempt landed and the
            # retry tripped over it: only the stored content can tell.
            current = self._read(key)
            if current is not None and current.data == json.loads(payload):
                return current.generation
            return None
        except gexc.NotFound:
            return None  # compare-and-swap on an object deleted meanwhile
        except (*_UNAVAILABLE, OSError) as error:
            raise StateUnavailable(f"state store unreachable writing {key}: {type(error).__name__}") from None
        return int(blob.generation)
