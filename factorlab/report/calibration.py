"""The calibration report as text: the stylized-fact table of :func:`factorlab.calibration.
calibrate` with the data it ran on, its notes and sources (``factorlab data calibrate``)."""

from __future__ import annotations

import textwrap

import polars as pl

from factorlab.calibration import Calibration
from factorlab.report.tables import MISSING, data_line, format_value, text_table

__all__ = ["calibration_frame", "calibration_text"]


def _in_band(value: bool | None) -> str:
    return MISSING if value is None else ("yes" if value else "NO")


def calibration_frame(cal: Calibration) -> pl.DataFrame:
    """The table as strings: Fact, Group, Target, Measured, Real (the reference market's value),
    Unit, In band (``yes`` / ``NO`` / ``n/a`` when the fact could not be measured), Note (its
    number in the notes list)."""
    t = cal.table
    return pl.DataFrame(
        {
            "Fact": t["fact"],
            "Group": t["group"],
            "Target": t["target"],
            "Measured": [format_value(x, "ratio") for x in t["measured"]],
            "Real": [format_value(x, "ratio") if x is not None else "" for x in t["reference"]],
            "Unit": t["unit"],
            "In band": [_in_band(x) for x in t["in_band"]],
            "Note": [f"[{i}]" for i in range(1, t.height + 1)],
        }
    )


def calibration_text(cal: Calibration, *, width: int = 120) -> str:
    """The whole report: heading, data line, the table, counts, numbered notes, sources."""
    out = [
        f"Calibration: issue 12's stylized facts on {cal.start} .. {cal.end}",
        textwrap.fill(data_line(cal), width=width, subsequent_indent="  "),  # type: ignore[arg-type]
    ]
    if cal.reference:
        ref = ", ".join(
            f"{k} {v[:16] if k == 'content_hash' else v}" for k, v in cal.reference.items()
        )
        out.append(textwrap.fill(f"Real: {ref}", width=width, subsequent_indent="  "))
    out += ["", text_table(calibration_frame(cal)), ""]
    out.append(", ".join(f"{v} {k}" for k, v in cal.counts().items()))
    out.append("\nNotes")
    for i, row in enumerate(cal.table.iter_rows(named=True), start=1):
        out.append(
            textwrap.fill(
                f"[{i}] {row['fact']} / {row['group']}: {row['note'] or ''}",
                width=width,
                subsequent_indent="     ",
            )
        )
    out.append("\nSources")
    seen: dict[str, str] = {}
    for row in cal.table.iter_rows(named=True):
        seen.setdefault(row["fact"], row["source"])
    for fact, source in seen.items():
        out.append(textwrap.fill(f"- {fact}: {source}", width=width, subsequent_indent="  "))
    return "\n".join(out)
