"""POST /webhook: the TradingView alert endpoint."""

from flask import Blueprint, request

from app.web.responses import respond, services

bp = Blueprint("webhook", __name__)


@bp.post("/webhook")
def webhook():
    """Execute one alert and answer with what happened."""
    answer = services().alerts.execute(
        request.get_data(cache=False), request.headers.get("Idempotency-Key")
    )
    return respond(answer)
