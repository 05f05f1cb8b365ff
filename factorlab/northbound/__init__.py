"""Northbound capital (北向资金): data hygiene, participant split, factors and the factor study."""

from __future__ import annotations

from factorlab.northbound.factors import (
    HANDBOOK_RECOMMENDED,
    NORTHBOUND_FACTORS,
    SPLIT_VARIANTS,
    northbound_factors,
    northbound_windows,
)
from factorlab.northbound.hygiene import (
    DISCLOSURE_END,
    DisclosureError,
    NorthboundPanel,
    bonus_checks,
    link_flows,
    pre_credited_events,
    research_panel,
)
from factorlab.northbound.participants import (
    ParticipantSplit,
    classify_participants,
    participant_changes,
    participant_daily,
    participant_flows,
)
from factorlab.northbound.study import (
    SAMPLES,
    STUDY_POOLS,
    StudyParams,
    StudyResult,
    factor_study,
    factor_sweep,
)

__all__ = [
    "DISCLOSURE_END",
    "HANDBOOK_RECOMMENDED",
    "NORTHBOUND_FACTORS",
    "SAMPLES",
    "SPLIT_VARIANTS",
    "STUDY_POOLS",
    "DisclosureError",
    "NorthboundPanel",
    "ParticipantSplit",
    "StudyParams",
    "StudyResult",
    "bonus_checks",
    "classify_participants",
    "factor_study",
    "factor_sweep",
    "link_flows",
    "northbound_factors",
    "northbound_windows",
    "participant_changes",
    "participant_daily",
    "participant_flows",
    "pre_credited_events",
    "research_panel",
]
