"""Notifications: every channel at once, bounded by the alert's answer deadline, never failing it."""

from __future__ import annotations

import collections
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from app.deadline import Deadline
from app.logs import Redactor, log_event
from app.ports import Clock, Notification, Notifier

log = logging.getLogger(__name__)

FAILURE_KINDS = frozenset(
    {
        "order_failed",
        "order_pending",
        "legs_partial",
        "login_required",
        "login_reminder",  # 09:10 on a trading day and still no Fyers login: the louder second call
        "token_refresh_error",
        "rate_limited",
        "rejected_by_exchange",  # an accepted order the exchange rejected later
        "protection_failed",  # a position with no stop-loss at the broker
        "day_summary",  # asked for by a Scheduler job: the day's one summary
        "day_locked",  # the day's P&L crossed a line: entries are refused until tomorrow
        "day_lock_lifted",
        "close_all",  # close-all or the square-off flattened (or failed to flatten) the book
        "book_reconciled",  # a strategy's book disagreed with Fyers's positions: what it holds changed
    }
)
# A queued alert ends long after TradingView was answered "queued", and often before the
# trader is watching: its end is the only word the trader gets, so it goes whatever NOTIFY_ON says.
QUEUE_END_KINDS = frozenset({"queue_placed", "queue_failed", "queue_expired", "queue_cancelled"})
SEND_CAP = 1.0  # seconds any channel may take, even with time to spare
RECENT = 50  # notifications kept in memory for the console


class Notifications:
    """Fans a notification out to the configured channels and waits, briefly, for them."""

    def __init__(
        self,
        channels: list[Notifier],
        redactor: Redactor,
        clock: Clock,
        notify_on: str = "failures",
        prefix: str = "",
    ):
        self._channels = channels
        # "PAPER: " on a paper broker: set here, once, so that no text anywhere can go out unmarked.
        self.prefix = prefix
        self._redactor = redactor
        self._clock = clock
        self._notify_on = notify_on
        self._pool = ThreadPoolExecutor(max_workers=max(2, 4 * len(channels)), thread_name_prefix="notify")
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT)
        self._lock = threading.Lock()
        self._outbox: list[Notification] = []

    def wanted(self, kind: str) -> bool:
        """Whether NOTIFY_ON asks for this kind."""
        return self._notify_on == "all" or kind in FAILURE_KINDS or kind in QUEUE_END_KINDS

    def notify(self, notification: Notification, deadline: Deadline) -> dict[str, str]:
        """Send on every channel in parallel; what each did. Never raises."""
        if not self.wanted(notification.kind):
            return {}
        notification = Notification(
            kind=notification.kind,
            text=self.prefix + self._redactor.clean(notification.text),
            fields=self._redactor.clean_value(notification.fields),
            link=notification.link,  # a login link is meant to be sent: single use, 15 minutes, never logged
        )
        results = {channel.name: "skipped: no time left" for channel in self._channels}
        budget = deadline.timeout(SEND_CAP)
        if self._channels and budget > 0.05:
            futures = {
                self._pool.submit(channel.send, notification, budget): channel.name
                for channel in self._channels
            }
            done, _ = wait(futures, timeout=budget + 0.05)
            for future, name in futures.items():
                if future not in done:
                    results[name] = "timed out"
                elif future.exception() is not None:
                    results[name] = f"failed: {self._redactor.clean(str(future.exception()))[:200]}"
                else:
                    results[name] = "sent"
        for name, result in results.items():
            if result != "sent":
                log_event(log, logging.WARNING, "notification_failed", f"{name} notification {result}", channel=name)
        self._remember(notification, results)
        return results

    def notify_soon(self, notification: Notification) -> None:
        """Hold a notification raised inside a broker call; `flush` sends it before the request ends."""
        # Not a thread of its own: work left running after the answer gets no CPU on Cloud Run.
        with self._lock:
            self._outbox.append(notification)

    def flush(self, deadline: Deadline) -> None:
        """Send what `notify_soon` held, within `deadline` (called as each request ends)."""
        with self._lock:
            held, self._outbox = self._outbox, []
        for notification in held:
            self.notify(notification, deadline)

    def recent(self) -> list[dict[str, Any]]:
        """The last notifications, newest first (for the console)."""
        with self._lock:
            return list(reversed(self._recent))

    def close(self) -> None:
        """Stop the workers and the channels."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for channel in self._channels:
            close = getattr(channel, "close", None)
            if close:
                close()

    def _remember(self, notification: Notification, results: dict[str, str]) -> None:
        with self._lock:
            self._recent.append(
                {
                    "at": self._clock.now().isoformat(),
                    "kind": notification.kind,
                    "text": notification.text,
                    "channels": results,
                }
            )
