"""POST /webhook: the TradingView alert endpoint."""

from dataclasses import replace

from flask import Blueprint, request

from app import MAX_BODY_BYTES
from app.answers import Answer, answer_for
from app.domain.errors import Forbidden, PayloadTooLarge
from app.web.responses import respond, respond_then, services
from app.web.source_ip import check_source, client_ip

bp = Blueprint("webhook", __name__)

# Said on every answer to such a request, a replay's too (the service's warnings are the first answer's).
HEADER_KEY_IGNORED = (
    "the Idempotency-Key header was ignored: the X-Signature does not cover it, so a signed alert's key"
    " is its body's idempotency_key, or the body itself"
)


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
    source = client_ip(request, settings.trusted_proxy_hops)
    try:
        check_source(request, settings.allowed_source_ips, settings.trusted_proxy_hops)
    except Forbidden as error:  # counted with the wrong secrets; no journal record, one line a minute
        services().alerts.reporter.unauthenticated(source, error.http_status, error.message)
        raise
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge("the body is larger than 64 KB")
    header_key, signature = request.headers.get("Idempotency-Key"), request.headers.get("X-Signature")
    result = services().alerts.execute(body, header_key, signature=signature, dry_run=dry_run, source=source)
    answer = _told_of_ignored_key(answer_for(result), header_key, signature)
    if result.then is None:
        return respond(answer)
    return respond_then(answer, result.then)


def _told_of_ignored_key(answer: Answer, header_key: str | None, signature: str | None) -> Answer:
    """The answer, with a warning when a signed request's Idempotency-Key header was ignored."""
    if header_key is None or not services().alerts.rules.auth.signed(signature) or answer.status in (401, 403):
        return answer
    return replace(answer, body={**answer.body, "warnings": [*answer.body.get("warnings", []), HEADER_KEY_IGNORED]})
