"""POST /admin/test-alert: the smoke test after a deploy, from the trader's laptop (admin token, no allowlist)."""

from flask import Blueprint, request

from app import MAX_BODY_BYTES
from app.answers import answer_for
from app.domain.errors import PayloadTooLarge
from app.services.smoke import smoke_test
from app.web.admin import require_admin
from app.web.responses import respond, services
from app.web.source_ip import client_ip

bp = Blueprint("smoke", __name__)


@bp.post("/admin/test-alert")
@require_admin
def admin_test_alert():
    """A dry run of an alert as TradingView would send it, its token optional: nothing is placed."""
    # The admin token, not the sender's address, authenticates this one: ALLOWED_SOURCE_IPS does not apply.
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge("the body is larger than 64 KB")
    source = client_ip(request, services().settings.trusted_proxy_hops)
    return respond(answer_for(smoke_test(services().alerts, body, source)))
