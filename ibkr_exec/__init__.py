"""ibkr-exec: order execution for Interactive Brokers as supervised state-machine actors.

Everything public is importable from here; submodules are implementation detail.
"""

from ibkr_exec.audit import AuditLogger, JournalWarning, read_journal, replay_orders
from ibkr_exec.config import Settings
from ibkr_exec.errors import (
    AckTimeoutError,
    ActorStoppedError,
    AskTimeoutError,
    DuplicateOrderError,
    EscalationError,
    IBKRExecError,
    JournalError,
    LiveTradingNotAllowedError,
    NotConnectedError,
    OrderRejectedError,
    ReadOnlyError,
    RiskCheckError,
    StashFullError,
    UnknownOrderError,
)
from ibkr_exec.events import ConnectionEventHandler, OrderEventHandler
from ibkr_exec.executor import IBKRConnectionManager, IBKROrderExecutor, RiskCheck
from ibkr_exec.models import (
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from ibkr_exec.trace import OrderTrace, TraceError, load_trace
from ibkr_exec.trace_render import render_trace

__version__ = "0.1.0"

__all__ = [
    "AckTimeoutError",
    "ActorStoppedError",
    "AskTimeoutError",
    "AuditLogger",
    "ConnectionEventHandler",
    "DuplicateOrderError",
    "EscalationError",
    "Fill",
    "IBKRConnectionManager",
    "IBKRExecError",
    "IBKROrderExecutor",
    "JournalError",
    "JournalWarning",
    "LiveTradingNotAllowedError",
    "NotConnectedError",
    "Order",
    "OrderEventHandler",
    "OrderRejectedError",
    "OrderRequest",
    "OrderStatus",
    "OrderTrace",
    "OrderType",
    "Position",
    "ReadOnlyError",
    "RiskCheck",
    "RiskCheckError",
    "Settings",
    "Side",
    "StashFullError",
    "TimeInForce",
    "TraceError",
    "UnknownOrderError",
    "__version__",
    "load_trace",
    "read_journal",
    "render_trace",
    "replay_orders",
]
