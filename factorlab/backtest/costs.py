"""Trading costs per order, on the order's actual yuan value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from factorlab.errors import ParameterError

__all__ = ["NO_COSTS", "STAMP_DUTY_CUT", "Costs"]

#: The A-share stamp duty on sells was halved from 0.1% to 0.05% on this date.
STAMP_DUTY_CUT = dt.date(2023, 8, 28)
STAMP_BEFORE_CUT = 0.001
STAMP_AFTER_CUT = 0.0005


@dataclass(frozen=True)
class Costs:
    """Costs of one order, in yuan, on its actual value (defaults: seed 000's).

    Parameters
    ----------
    commission
        Rate per side (both buys and sells), e.g. 0.0003 = 0.03%.
    min_commission
        Minimum commission per order, in yuan (5 yuan at most A-share brokers): an order of
        value v pays ``max(commission * v, min_commission)``.
    stamp_duty
        Rate on stock sells only (never on buys, ETFs or index proxies). ``None``: the
        historical schedule, 0.1% before 2023-08-28 and 0.05% from that date.
    slippage_bps
        Paid on the value of every order, both sides, in bps.

    Examples
    --------
    >>> Costs().stamp_schedule(np.array(["2023-08-25", "2023-08-28"], "datetime64[D]")).tolist()
    [0.001, 0.0005]
    """

    commission: float = 0.0003
    min_commission: float = 5.0
    stamp_duty: float | None = None
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("commission", "min_commission", "slippage_bps"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"`Costs.{name}` must be finite and >= 0; got {value}.")
        if self.commission >= 0.1:
            raise ParameterError(
                f"`Costs.commission` is a rate (0.0003 = 0.03%); got {self.commission}."
            )
        if self.stamp_duty is not None and not 0 <= self.stamp_duty < 0.1:
            raise ParameterError(
                f"`Costs.stamp_duty` must be a rate in [0, 0.1) or None (the schedule); got "
                f"{self.stamp_duty}."
            )

    def stamp_schedule(self, dates: np.ndarray) -> np.ndarray:
        """Stamp duty rate on a stock sell on each of `dates` (datetime64[D])."""
        if self.stamp_duty is not None:
            return np.full(len(dates), float(self.stamp_duty))
        cut = np.datetime64(STAMP_DUTY_CUT, "D")
        return np.where(np.asarray(dates) >= cut, STAMP_AFTER_CUT, STAMP_BEFORE_CUT)


#: No costs at all (research mode: net == gross).
NO_COSTS = Costs(commission=0.0, min_commission=0.0, stamp_duty=0.0, slippage_bps=0.0)
