"""Northbound capital (北向资金): data hygiene, participant split, factors and the factor study."""

from __future__ import annotations

from factorlab.northbound.hygiene import (
    DISCLOSURE_END,
    DisclosureError,
    NorthboundPanel,
    link_flows,
    research_panel,
)
from factorlab.northbound.participants import (
    ParticipantSplit,
    classify_participants,
    participant_changes,
    participant_daily,
    participant_flows,
)

__all__ = [
    "DISCLOSURE_END",
    "DisclosureError",
    "NorthboundPanel",
    "ParticipantSplit",
    "classify_participants",
    "link_flows",
    "participant_changes",
    "participant_daily",
    "participant_flows",
    "research_panel",
]
