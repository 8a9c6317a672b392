"""The fault plan: what the simulator should do wrong, and how many more times.

Every fault is armed by a FakeTWS method (or a scenario file) and consumed by the sessions as they
send and answer messages. A plan with nothing armed costs one attribute check per message.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ERROR_TEXT",
    "MESSAGE_IDS",
    "REQUESTS",
    "WARNING_CODES",
    "FaultPlan",
    "InjectedError",
    "MessageRule",
]

#: Server-to-client message names (as in the TWS API docs) and their wire ids.
MESSAGE_IDS: Final[dict[str, str]] = {
    "orderStatus": "3",
    "error": "4",
    "openOrder": "5",
    "updateAccountValue": "6",
    "updateAccountTime": "8",
    "nextValidId": "9",
    "execDetails": "11",
    "managedAccounts": "15",
    "currentTime": "49",
    "openOrderEnd": "53",
    "accountDownloadEnd": "54",
    "execDetailsEnd": "55",
    "commissionReport": "59",
    "position": "61",
    "positionEnd": "62",
    "accountSummaryEnd": "64",
    "accountUpdateMultiEnd": "74",
    "completedOrder": "101",
    "completedOrdersEnd": "102",
}

#: Requests that can be left unanswered, by the name ib_async logs when they time out.
REQUESTS: Final = frozenset(
    {
        "positions",
        "openOrders",
        "allOpenOrders",
        "completedOrders",
        "accountUpdates",
        "accountUpdatesMulti",
        "accountSummary",
        "executions",
        "currentTime",
        "ids",
    }
)

#: Codes TWS sends as warnings: the order goes ahead after them. Not 321 ("Error validating
#: request"): TWS refuses a new order with it (it leaves a live order alone only after a modify).
WARNING_CODES: Final = frozenset({105, 165, 329, 399, 404, 434, 492, 2109, 10167})

#: TWS's wording for the codes the simulator sends; ``{order_id}``/``{state}`` are filled in.
ERROR_TEXT: Final[dict[int, str]] = {
    103: "Duplicate order id",
    110: "The price does not conform to the minimum price variation for this contract.",
    161: "Cancel attempted when order is not in a cancellable state. Order permId ={perm_id}",
    201: "Order rejected - reason:{reason}",
    202: "Order Canceled - reason:{reason}",
    320: "Error reading request. {reason}",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    399: "Order Message:\nWarning: your order will not be placed at the exchange until "
    "the market opens.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefnj",
    10147: "OrderId {order_id} that needs to be cancelled is not found.",
    10148: "OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {state}.",
}

Action = Literal["delay", "drop", "duplicate", "hold"]


@dataclass(slots=True)
class MessageRule:
    """Do ``action`` to the next ``remaining`` messages with wire id ``msg_id`` (None: forever)."""

    action: Action
    msg_id: str
    remaining: int | None = 1
    seconds: float = 0.0
    #: For ``hold``: the wire id after which the held message is released.
    until: str = ""


@dataclass(slots=True)
class InjectedError:
    """An error code to answer the next placement or cancel with."""

    code: int
    message: str | None = None


def message_id(name: str) -> str:
    """The wire id of a message name, e.g. ``"openOrder"`` -> ``"5"``; ids pass through."""
    if name in MESSAGE_IDS:
        return MESSAGE_IDS[name]
    if name.isdigit():
        return name
    raise ValueError(f"unknown message {name!r}; expected one of {sorted(MESSAGE_IDS)}")


class FaultPlan:
    """Armed faults, consumed in the order they were armed."""

    def __init__(self) -> None:
        self.rules: list[MessageRule] = []
        self.order_errors: deque[InjectedError] = deque()
        self.cancel_errors: deque[InjectedError] = deque()
        self.unanswered: dict[str, int | None] = {}
        self.swallowed_placements = 0
        self.drop_after: int | None = None

    @property
    def shapes_messages(self) -> bool:
        """True when outgoing messages must go through the slow path."""
        return bool(self.rules) or self.drop_after is not None

    def add_rule(self, rule: MessageRule) -> None:
        """Arm a message rule."""
        self.rules.append(rule)

    def take_rule(self, msg_id: str) -> MessageRule | None:
        """The first armed rule for this message id, counting one use of it."""
        for index, rule in enumerate(self.rules):
            if rule.msg_id == msg_id:
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self.rules[index]
                return rule
        return None

    def take_unanswered(self, request: str) -> bool:
        """Whether this request should go unanswered (counting one use)."""
        if request not in self.unanswered:
            return False
        remaining = self.unanswered[request]
        if remaining is not None:
            if remaining <= 1:
                del self.unanswered[request]
            else:
                self.unanswered[request] = remaining - 1
        return True

    def take_swallow(self) -> bool:
        """Whether the next placement should vanish without an answer."""
        if self.swallowed_placements <= 0:
            return False
        self.swallowed_placements -= 1
        return True

    def count_sent(self) -> bool:
        """Count one outgoing message; True when the armed connection drop is now due."""
        if self.drop_after is None:
            return False
        self.drop_after -= 1
        if self.drop_after > 0:
            return False
        self.drop_after = None
        return True

    def clear(self) -> None:
        """Disarm everything."""
        self.__init__()  # type: ignore[misc]
