"""Alerts that arrive late are not executed late: `timenow` against MAX_ALERT_AGE_SECONDS, on by default."""

from __future__ import annotations

import pathlib
import re
from datetime import timedelta, timezone

import pytest

from app.settings import ConfigError, Settings
from tests.conftest import seed_alert, send_alert

ALERTS_MD = pathlib.Path(__file__).resolve().parent.parent / "docs" / "alerts.md"


def stamp(clock, seconds_ago: float) -> str:
    """`{{timenow}}` as TradingView fills it, `seconds_ago` before the clock: UTC, to the second."""
    return (clock.now() - timedelta(seconds=seconds_ago)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_stale_alert_is_refused_by_default_naming_its_age_and_the_limit(make_bridge, clock):
    bridge = make_bridge()  # the default settings: no MAX_ALERT_AGE_SECONDS given
    response = send_alert(bridge.client, seed_alert(timenow=stamp(clock, 6)))
    assert response.status_code == 422, response.json
    body = response.json
    assert body["status"] == "stale" and body["rule"] == "MAX_ALERT_AGE_SECONDS"
    assert body["age_seconds"] == 6.0 and body["limit_seconds"] == 4
    assert "6.0 s old" in body["message"] and "MAX_ALERT_AGE_SECONDS 4" in body["message"]
    assert bridge.paper.orders == []
    record = bridge.services.journal.day(clock.now().date())[-1]
    assert record["outcome"] == "stale"


def test_a_tradingview_resend_of_a_failed_alert_is_refused_as_stale(make_bridge, clock):
    # TradingView resends a 5xx 5 s later with the same body: the same timenow, 5 s older.
    bridge = make_bridge()
    alert = seed_alert(timenow=stamp(clock, 0), idempotency_key=None)
    clock.instant += timedelta(seconds=5.2)
    response = send_alert(bridge.client, alert)
    assert response.status_code == 422 and response.json["status"] == "stale"
    assert bridge.paper.orders == []


@pytest.mark.parametrize("seconds_ago", [0, 1, 4])
def test_an_alert_within_the_limit_is_placed_without_warning(make_bridge, clock, seconds_ago):
    bridge = make_bridge()
    response = send_alert(bridge.client, seed_alert(timenow=stamp(clock, seconds_ago)))
    assert response.status_code == 200 and response.json["status"] == "placed"
    assert "warnings" not in response.json


def test_a_stamp_ahead_of_the_clock_beyond_the_limit_is_refused(make_bridge, clock):
    bridge = make_bridge()
    response = send_alert(bridge.client, seed_alert(timenow=stamp(clock, -60)))
    assert response.status_code == 422 and response.json["status"] == "stale"
    assert "ahead of this server's clock" in response.json["message"]


def test_an_alert_without_timenow_is_placed_with_a_warning(make_bridge, clock, caplog):
    bridge = make_bridge()
    with caplog.at_level("WARNING"):
        response = send_alert(bridge.client, seed_alert())
    assert response.status_code == 200 and response.json["status"] == "placed"
    assert len(bridge.paper.orders) == 1
    (warning,) = response.json["warnings"]
    assert "age could not be checked" in warning and "{{timenow}}" in warning
    record = bridge.services.journal.day(clock.now().date())[-1]
    assert record["warnings"] == [warning]
    assert any(getattr(line, "event", "") == "alert_age_unchecked" for line in caplog.records)


def test_time_is_the_bar_time_and_never_the_age(make_bridge, clock):
    # {{time}} on a 15-minute chart is 15 minutes old when the alert fires at the bar's close.
    bridge = make_bridge()
    response = send_alert(bridge.client, seed_alert(time=stamp(clock, 15 * 60)))
    assert response.status_code == 200 and response.json["status"] == "placed"
    assert "age could not be checked" in response.json["warnings"][0]


def test_zero_turns_the_check_off(make_bridge, clock):
    bridge = make_bridge(max_alert_age_seconds=0)
    assert send_alert(bridge.client, seed_alert(timenow=stamp(clock, 3600), idempotency_key="old")).status_code == 200
    response = send_alert(bridge.client, seed_alert(idempotency_key="none"))
    assert response.status_code == 200 and "warnings" not in response.json


def test_the_setting_defaults_to_4_and_takes_0_to_turn_off():
    assert Settings().max_alert_age_seconds == 4
    assert Settings.from_env({}).max_alert_age_seconds == 4
    assert Settings.from_env({"MAX_ALERT_AGE_SECONDS": "0"}).max_alert_age_seconds == 0
    with pytest.raises(ConfigError, match="MAX_ALERT_AGE_SECONDS"):
        Settings.from_env({"MAX_ALERT_AGE_SECONDS": "-1"})


def test_every_template_in_alerts_md_carries_timenow():
    templates = [
        block for block in re.findall(r"```json\n(.*?)```", ALERTS_MD.read_text(), re.S) if "YOUR_SECRET" in block
    ]
    assert len(templates) >= 10
    assert [t for t in templates if '"timenow": "{{timenow}}"' not in t] == []
