"""POST /webhook: the TradingView alert endpoint."""

from flask import Blueprint, request

from app import MAX_BODY_BYTES
from app.answers import answer_for
from app.domain.errors import PayloadTooLarge
from app.web.responses import respond, respond_then, services
from app.web.source_ip import check_source

bp = Blueprint("webhook", __name__)


@bp.post("/webhook")
def webhook():
    """Execute one alert and answer with what happened."""
    return _run(dry_run=False)


@bp.post("/webhook/test")
def webhook_test():
    """A dry run: authenticate, validate, resolve, price and gate; place nothing."""
    return _run(dry_run=True)


def _run(dry_run: bool):
    settings = services().settings
    check_source(request, settings.allowed_source_ips, settings.trusted_proxy_hops)
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge("the body is larger than 64 KB")
    result = services().alerts.execute(
        body,
        request.headers.get("Idempotency-Key"),
        signature=request.headers.get("X-Signature"),
        dry_run=dry_run,
    )
    if result.then is None:
        return respond(answer_for(result))
    return respond_then(answer_for(result), result.then)
