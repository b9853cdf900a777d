"""The paper price control: POST /admin/paper/price (admin) moves a paper price so stops and targets fire on demand."""

import logging
import re
from decimal import Decimal, InvalidOperation

from flask import Blueprint, request

from app.adapters.paper_broker import PaperBroker
from app.answers import Answer
from app.domain.errors import InvalidRequest
from app.logs import log_event
from app.web.admin import require_admin
from app.web.responses import respond, services

bp = Blueprint("paper", __name__)
log = logging.getLogger(__name__)

FYERS_TICKER = re.compile(r"^(NSE|BSE):[A-Z0-9][A-Z0-9&_-]*$")
TICK = Decimal("0.05")
MAX_PRICE = Decimal("1000000")  # rupees: far above any option premium; bounds the arithmetic


@bp.post("/admin/paper/price")
@require_admin
def move_price():
    """Move one paper price; every working order the new price reaches fills at once.

    Body: `{"symbol": "NSE:NIFTY26D0126000CE", "price": 95.5}` (a Fyers ticker; a positive price on the
    0.05 tick). A protective stop leg below the price fires when the price is moved to or through it, and
    its target leg is cancelled. Answers 200 `{"status": "moved", "symbol", "price", "filled": [...]}`, one
    entry per order filled (`order_id`, `side` BUY/SELL, `qty`, `price`, `parent_id`); 400 naming the bad
    field; 409 `not_paper` when BROKER is not paper. Journal records and notifications of the fills come from
    the next POST /sync, as for Fyers.
    """
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    broker = services().broker
    paper = getattr(broker, "inner", broker)
    if not isinstance(paper, PaperBroker):
        return respond(Answer(409, {"status": "not_paper", "message": "the price control moves paper prices only"}))
    symbol, price = _symbol(body.get("symbol")), _price(body.get("price"))
    filled = paper.set_price(symbol, price)
    forget = getattr(broker, "forget_positions", None)
    if forget:  # the shared positions book predates the fills
        forget()
    message = f"paper price of {symbol} moved to {price}: {len(filled)} order(s) filled"
    log_event(log, logging.INFO, "paper_price_moved", message, symbol=symbol, price=str(price))
    rows = [
        {
            "order_id": order.order_id,
            "side": order.side.name,
            "qty": order.qty,
            "price": float(order.traded_price),
            "parent_id": order.parent_id,
        }
        for order in filled
    ]
    return respond(Answer(200, {"status": "moved", "symbol": symbol, "price": float(price), "filled": rows}))


def _symbol(value) -> str:
    if not isinstance(value, str) or not FYERS_TICKER.match(value):
        raise InvalidRequest("symbol", "symbol must be a Fyers ticker such as NSE:NIFTY26D0126000CE", value=value)
    return value


def _price(value) -> Decimal:
    message = f"price must be a positive number on the 0.05 tick, at most {MAX_PRICE}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest("price", message, value=value)
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise InvalidRequest("price", message, value=value) from None
    if not price.is_finite() or not 0 < price <= MAX_PRICE or price % TICK:
        raise InvalidRequest("price", message, value=value if price.is_finite() else str(value))
    return price
