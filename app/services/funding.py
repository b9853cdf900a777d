"""Margin before sending: an alert's entries are refused when the account cannot fund them.

The broker's margin calculator is asked once per alert, for all its entries in the planned
sequence (buys first, so a hedged sell gets its benefit). An account short of margin is refused
here, with the shortfall named, instead of by the exchange after the order left. When the broker
cannot say, the orders go on and the answer says the margin was not checked: Fyers's own check
still applies to each order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from app.deadline import Deadline
from app.domain.errors import BrokerUnavailable, RiskRefused
from app.domain.orders import Margin, Priority
from app.logs import log_event
from app.ports import Broker
from app.services.plan import Plan

log = logging.getLogger(__name__)

# Seconds of the alert's budget the margin check leaves to the orders themselves: a slow margin
# calculator costs the check (the orders go on unchecked), never the orders.
KEEP_FOR_ORDERS = 1.0


@dataclass(frozen=True)
class Funding:
    """Asks the broker whether the account can fund an alert's entries (MARGIN_CHECK)."""

    broker: Broker
    enabled: bool = True

    def check(self, plan: Plan, deadline: Deadline, warnings: list[str]) -> Plan:
        """The plan, once its entries are known fundable or could not be checked (said in `warnings`).

        RiskRefused (rule "margin") when the account cannot fund them: nothing is sent.
        """
        # No tag is needed to price margin; each order as it will be sent (product, type, legs).
        entries = [planned.request("margin", None, False, None) for planned in plan.orders if not planned.closing]
        if not self.enabled or not entries:
            return plan
        try:
            margin = self.broker.margin(entries, deadline.sooner(KEEP_FOR_ORDERS), priority=Priority.QUOTE)
        except BrokerUnavailable as error:  # unreachable, refused, or paced out (RateLimited, PacedOut)
            margin, reason = None, error.message
        else:
            reason = "the broker's margin calculator did not say"
        if margin is None:
            log_event(log, logging.WARNING, "margin_unchecked", f"margin not checked: {reason}")
            warnings.append(f"margin not checked: {reason}; the broker's own check still applies")
            return plan
        if margin.required > margin.available:
            raise RiskRefused("margin", _refusal(margin), **_figures(margin))
        return plan


def _refusal(margin: Margin) -> str:
    """The refusal in the trader's words, the shortfall first."""
    return (
        f"the account cannot fund this entry: short by Rs {_rupees(margin.shortfall)} "
        f"(needs Rs {_rupees(margin.required)}, has Rs {_rupees(margin.available)} available)"
    )


def _figures(margin: Margin) -> dict[str, str]:
    """The refusal's figures for the answer and the journal, as strings of rupees."""
    return {
        "shortfall": str(_rupees(margin.shortfall)),
        "margin_required": str(_rupees(margin.required)),
        "margin_available": str(_rupees(margin.available)),
    }


def _rupees(amount: Decimal) -> Decimal:
    """To the paisa."""
    return amount.quantize(Decimal("0.01"))
