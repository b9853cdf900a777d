"""The paper broker's margin: what simulated entries need and what the paper account holds, in rupees.

Kept simple on purpose, and documented in docs/configuration.md (PAPER_FUNDS): a buy needs its
premium, a sell a fixed margin per contract with no hedge benefit, and the account's free money is
PAPER_FUNDS less what the open paper positions hold.
"""

from __future__ import annotations

from decimal import Decimal

from app.adapters.paper_ledger import Ledger, rupees
from app.domain.orders import OrderRequest, Side

PAPER_FUNDS = Decimal(1_000_000)  # Rs 10,00,000: the paper account's money when PAPER_FUNDS is not set
# A short option's margin per contract: about Rs 1,17,000 per NIFTY lot of 65, near what SPAN plus
# exposure asks of an at-the-money NIFTY option in late 2026. The paper broker knows no lot sizes.
SELL_MARGIN_PER_CONTRACT = Decimal(1800)


def order_needs(order: OrderRequest, price: Decimal) -> Decimal:
    """A buy needs its premium at `price`; a sell the fixed margin per contract."""
    return rupees(order.qty * (price if order.side == Side.BUY else SELL_MARGIN_PER_CONTRACT))


def position_holds(ledger: Ledger) -> Decimal:
    """What an open position holds: a long its premium at the buy average, a short the sell margin."""
    if ledger.net > 0:
        return rupees(ledger.net * ledger.buy_value / ledger.buy_qty)
    return rupees(-ledger.net * SELL_MARGIN_PER_CONTRACT)
