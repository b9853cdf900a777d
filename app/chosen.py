"""The adapters the settings choose where there is a choice: the state store, the channels, the job verifier."""

from __future__ import annotations

from app.adapters.local_state import LocalStateStore
from app.ports import Notifier, StateStore
from app.settings import Settings


def state_store(settings: Settings) -> StateStore:
    """GCS when a bucket is configured (shared by every instance), else local files."""
    if settings.gcs_bucket_name:
        from app.adapters.gcs_state import GcsStateStore

        return GcsStateStore(settings.gcs_bucket_name)
    return LocalStateStore(f"{settings.state_dir}/state")


def channels(settings: Settings) -> list[Notifier]:
    """The notification channels the settings name."""
    from app.adapters.notifiers import HttpNotifier, PubSubNotifier, TelegramNotifier

    channels: list[Notifier] = []
    if settings.notification_topic:
        topic = settings.notification_topic
        if not topic.startswith("projects/"):
            topic = f"projects/{settings.google_cloud_project}/topics/{topic}"
        channels.append(PubSubNotifier(topic))
    if settings.notification_url:
        channels.append(HttpNotifier(settings.notification_url))
    if settings.telegram_bot_token and settings.telegram_chat_id:
        channels.append(
            TelegramNotifier(settings.telegram_bot_token, settings.telegram_chat_id, settings.telegram_api_base_url)
        )
    return channels


def scheduler_verifier(settings: Settings):
    """The verifier of Cloud Scheduler's OIDC tokens, when its account is configured."""
    if not settings.scheduler_service_account:
        return None
    from app.adapters.google_oidc import GoogleOidcVerifier

    return GoogleOidcVerifier(
        settings.scheduler_service_account, settings.scheduler_audience, settings.scheduler_certs_url
    )
