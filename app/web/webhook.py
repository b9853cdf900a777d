"""POST /webhook: the TradingView alert endpoint."""

from flask import Blueprint, request

from app.web.responses import respond, services
from app.web.source_ip import check_source

bp = Blueprint("webhook", __name__)


@bp.post("/webhook")
def webhook():
    """Execute one alert and answer with what happened."""
    settings = services().settings
    check_source(request, settings.allowed_source_ips, settings.trusted_proxy_hops)
    answer = services().alerts.execute(
        request.get_data(cache=False), request.headers.get("Idempotency-Key")
    )
    return respond(answer)
