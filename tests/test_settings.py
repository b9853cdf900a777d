"""Settings: defaults, validation naming the variable, and secrets kept out of repr."""

import pathlib
import subprocess
import sys
from decimal import Decimal

import pytest

from app.deadline import Deadline
from app.settings import ConfigError, Settings

FYERS_ENV = {
    "BROKER": "fyers",
    "WEBHOOK_SECRET_TOKEN": "s3cret-webhook-0123",
    "ADMIN_TOKEN": "s3cret-admin-012345",
    "FYERS_APP_ID": "APP-100",
    "FYERS_SECRET_ID": "s3cret-app",
    "FYERS_REDIRECT_URI": "https://bridge.example/auth/callback",
    "TOKEN_ENCRYPTION_KEY": "s3cret-token-encryption-key-0123456789abcde=",
}
BOT_TOKEN = "123456:telegram-bot-secret"


def test_embedded_default():
    settings = Settings.from_env({})
    assert settings.broker == "paper"
    assert settings.webhook_secret_token == "paper"
    assert settings.symbol_master_url == "synthetic"
    assert settings.webhook_max_qty == 1 and settings.sl_percent == Decimal(15)
    assert settings.port == 8080


def test_fyers_defaults_to_the_real_masters():
    settings = Settings.from_env(FYERS_ENV)
    assert settings.symbol_master_url.split(",") == [
        "https://public.fyers.in/sym_details/NSE_FO.csv",
        "https://public.fyers.in/sym_details/BSE_FO.csv",
    ]


def test_symbol_master_url_takes_several_sources_but_no_empty_one():
    both = Settings.from_env({"SYMBOL_MASTER_URL": "/data/NSE_FO.csv,/data/BSE_FO.csv"})
    assert both.symbol_master_url == "/data/NSE_FO.csv,/data/BSE_FO.csv"
    with pytest.raises(ConfigError, match="SYMBOL_MASTER_URL must be 'synthetic' or URLs / file paths"):
        Settings.from_env({"SYMBOL_MASTER_URL": "/data/NSE_FO.csv,"})


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"BROKER": "zerodha"}, "BROKER"),
        ({"WEBHOOK_MAX_QTY": "two"}, "WEBHOOK_MAX_QTY"),
        ({"WEBHOOK_MAX_QTY": "0"}, "WEBHOOK_MAX_QTY"),
        ({"SL_PERCENT": "150"}, "SL_PERCENT"),
        ({"TP_PERCENT": "x"}, "TP_PERCENT"),
        ({"PROTECTION": "maybe"}, "PROTECTION"),
        ({"PORT": "99999"}, "PORT"),
        ({"DEFAULT_PRODUCT_TYPE": "CNC"}, "DEFAULT_PRODUCT_TYPE"),
        ({"FYERS_API_BASE_URL": "ftp://x"}, "FYERS_API_BASE_URL"),
        ({**FYERS_ENV, "WEBHOOK_SECRET_TOKEN": ""}, "WEBHOOK_SECRET_TOKEN"),
        ({**FYERS_ENV, "ADMIN_TOKEN": ""}, "ADMIN_TOKEN"),
        ({**FYERS_ENV, "FYERS_APP_ID": ""}, "FYERS_APP_ID"),
        ({**FYERS_ENV, "FYERS_REDIRECT_URI": ""}, "FYERS_REDIRECT_URI"),
    ],
)
def test_invalid_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_repr_hides_secrets():
    text = repr(Settings.from_env(FYERS_ENV))
    assert "s3cret" not in text and "APP-100" in text


@pytest.mark.parametrize(
    "env, line",
    [
        ({"WEBHOOK_MAX_QTY": "lots"}, "WEBHOOK_MAX_QTY must be a whole number, got 'lots'"),
        # A half-configured Telegram, as a deploy that left TELEGRAM_CHAT_ID blank would start.
        (
            {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_CHAT_ID": ""},
            "TELEGRAM_CHAT_ID is missing: TELEGRAM_BOT_TOKEN is set (set both for Telegram, or neither)",
        ),
    ],
    ids=["bad-value", "half-telegram"],
)
def test_bad_configuration_stops_the_process_with_one_line(tmp_path, env, line):
    result = subprocess.run(
        [sys.executable, "main.py"],
        env={**env, "PATH": "", "NO_GCE_CHECK": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(pathlib.Path(__file__).resolve().parent.parent),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(line)
    assert BOT_TOKEN not in result.stderr


# -- Notification channels: each works alone or not at all ---------------------------------------------

TELEGRAM = {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_CHAT_ID": "42"}
PUBSUB = {"NOTIFICATION_TOPIC": "projects/test-project/topics/trader-alerts"}
HTTP = {"NOTIFICATION_URL": "http://127.0.0.1:9/hooks/abc"}


@pytest.mark.parametrize(
    "env, names",
    [
        ({}, []),
        (PUBSUB, ["pubsub"]),
        ({"NOTIFICATION_TOPIC": "trader-alerts", "GOOGLE_CLOUD_PROJECT": "test-project"}, ["pubsub"]),
        (HTTP, ["http"]),
        (TELEGRAM, ["telegram"]),
        ({**PUBSUB, **HTTP, **TELEGRAM}, ["pubsub", "http", "telegram"]),
        # Blank is unset: a Cloud Run deploy may set every variable, some to "".
        ({"NOTIFICATION_TOPIC": "", "NOTIFICATION_URL": " ", "TELEGRAM_BOT_TOKEN": "", "TELEGRAM_CHAT_ID": ""}, []),
        ({**TELEGRAM, "NOTIFICATION_TOPIC": "", "NOTIFICATION_URL": ""}, ["telegram"]),
    ],
    ids=["none", "pubsub", "pubsub-short-topic", "http", "telegram", "all", "all-blank", "telegram-others-blank"],
)
def test_each_channel_starts_alone_or_not_at_all(env, names, tmp_path, monkeypatch):
    from app.bootstrap import bootstrap
    from app.ports import Notification

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")  # the real client, built without credentials
    settings = Settings.from_env({**env, "STATE_DIR": str(tmp_path / "var")})
    services = bootstrap(settings)
    try:
        # No time left: every channel the bridge built answers "skipped", and none is reached.
        told = services.notifications.notify(Notification("order_failed", "test", {}), Deadline(0))
        assert list(told) == names
    finally:
        services.notifications.close()
        services.broker.close()


@pytest.mark.parametrize(
    "env, line",
    [
        (
            {"TELEGRAM_BOT_TOKEN": BOT_TOKEN},
            "TELEGRAM_CHAT_ID is missing: TELEGRAM_BOT_TOKEN is set (set both for Telegram, or neither)",
        ),
        (
            {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_CHAT_ID": ""},
            "TELEGRAM_CHAT_ID is missing: TELEGRAM_BOT_TOKEN is set (set both for Telegram, or neither)",
        ),
        (
            {"TELEGRAM_CHAT_ID": "42"},
            "TELEGRAM_BOT_TOKEN is missing: TELEGRAM_CHAT_ID is set (set both for Telegram, or neither)",
        ),
        (
            {"TELEGRAM_CHAT_ID": "42", "TELEGRAM_BOT_TOKEN": "  "},
            "TELEGRAM_BOT_TOKEN is missing: TELEGRAM_CHAT_ID is set (set both for Telegram, or neither)",
        ),
        (
            {"NOTIFICATION_TOPIC": "trader-alerts"},
            "NOTIFICATION_TOPIC must be projects/<project>/topics/<topic>, or GOOGLE_CLOUD_PROJECT must be set",
        ),
        (
            {"NOTIFICATION_TOPIC": "trader-alerts", "GOOGLE_CLOUD_PROJECT": ""},
            "NOTIFICATION_TOPIC must be projects/<project>/topics/<topic>, or GOOGLE_CLOUD_PROJECT must be set",
        ),
    ],
    ids=["token-only", "chat-id-blank", "chat-id-only", "token-blank", "topic-no-project", "topic-project-blank"],
)
def test_a_half_configured_channel_names_the_missing_half(env, line):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == line
    assert BOT_TOKEN not in str(refused.value)


def test_every_variable_is_in_env_example_and_the_readme():
    """Keep the README and .env.example true: every variable the settings read is documented."""
    root = pathlib.Path(__file__).resolve().parent.parent
    names = set(Settings.variables()) - {"K_SERVICE"}  # set by Cloud Run
    example = (root / ".env.example").read_text()
    readme = (root / "README.md").read_text()
    assert len(names) > 40
    assert sorted(n for n in names if f"\n{n}=" not in example) == []
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
