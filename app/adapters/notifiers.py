"""Notification channels: Pub/Sub, an HTTP webhook and Telegram. Each send has a hard timeout."""

from __future__ import annotations

import json

import requests

from app.ports import Notification, Notifier


def _payload(notification: Notification) -> dict:
    return {
        "kind": notification.kind,
        "text": notification.text,
        "link": notification.link,
        **notification.fields,
    }


class PubSubNotifier(Notifier):
    """Publishes a JSON message to a topic and waits for Pub/Sub's acknowledgement."""

    name = "pubsub"

    def __init__(self, topic_path: str):
        from google.cloud import pubsub_v1

        self._topic = topic_path
        # One message per batch: a notification goes out at once, not after a batching delay.
        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=1, max_latency=0.0)
        )

    def send(self, notification: Notification, timeout: float) -> None:
        """Publish and wait for the message id.

        No client retries: by default the publisher retries for up to ten minutes in the
        background, past the answer; one attempt bounded by `timeout` is all an alert can give.
        """
        data = json.dumps(_payload(notification)).encode("utf-8")
        future = self._client.publish(
            self._topic, data, kind=notification.kind, retry=None, timeout=timeout
        )
        future.result(timeout=timeout + 0.1)

    def close(self) -> None:
        """Stop the publisher's background threads."""
        self._client.stop()
        self._client.transport.close()


class HttpNotifier(Notifier):
    """POSTs the notification as JSON to a URL (Slack-style webhooks, n8n, your own service)."""

    name = "http"

    def __init__(self, url: str):
        self._url = url
        self._session = requests.Session()

    def send(self, notification: Notification, timeout: float) -> None:
        """POST and require a 2xx; errors never repeat the URL (it may hold a secret)."""
        try:
            response = self._session.post(
                self._url, json=_payload(notification), timeout=(min(1.0, timeout), timeout)
            )
        except requests.RequestException as error:
            raise ConnectionError(f"webhook unreachable ({type(error).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise ConnectionError(f"webhook answered HTTP {response.status_code}")

    def close(self) -> None:
        """Release connections."""
        self._session.close()


class TelegramNotifier(Notifier):
    """Sends the text to a chat through the Telegram Bot API."""

    name = "telegram"

    def __init__(self, bot_token: str, chat_id: str, api_base: str = "https://api.telegram.org"):
        self._url = f"{api_base.rstrip('/')}/bot{bot_token}/sendMessage"
        self._chat_id = chat_id
        self._session = requests.Session()

    def send(self, notification: Notification, timeout: float) -> None:
        """sendMessage; the bot token is in the URL, so errors never repeat the URL."""
        text = notification.text if not notification.link else f"{notification.text}\n{notification.link}"
        try:
            response = self._session.post(
                self._url,
                json={"chat_id": self._chat_id, "text": text, "disable_web_page_preview": True},
                timeout=(min(1.0, timeout), timeout),
            )
        except requests.RequestException as error:
            raise ConnectionError(f"Telegram unreachable ({type(error).__name__})") from None
        if response.status_code != 200 or not response.json().get("ok"):
            raise ConnectionError(f"Telegram answered HTTP {response.status_code}")

    def close(self) -> None:
        """Release connections."""
        self._session.close()
