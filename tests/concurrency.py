"""Running one call on many threads at once, for the tests that race."""

from __future__ import annotations

import threading
from typing import Any, Callable


def together(n: int, call: Callable[[int], Any], timeout: float = 60.0) -> list[Any]:
    """Run `call(i)` for i in range(n) on n threads released at the same instant.

    Each result is the call's return value, or the exception it raised.
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=timeout)
        try:
            results[i] = call(i)
        except Exception as error:  # noqa: BLE001 - handed back to the test to assert on
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
