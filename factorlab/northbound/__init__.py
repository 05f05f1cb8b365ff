"""Northbound capital (北向资金): data hygiene, participant split, factors and the factor study."""

from __future__ import annotations

from factorlab.northbound.hygiene import (
    DISCLOSURE_END,
    DisclosureError,
    NorthboundPanel,
    link_flows,
    research_panel,
)

__all__ = ["DISCLOSURE_END", "DisclosureError", "NorthboundPanel", "link_flows", "research_panel"]
