"""Measuring and reporting: percentiles, timed loops, result rows and the results table."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


class NotRun(Exception):
    """A figure that cannot be measured in this build or on this machine (the reason is shown)."""


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def timed(action: Callable[[], object], count: int, warmup: int = 3) -> list[float]:
    """Run ``action`` ``warmup`` + ``count`` times; the last ``count`` durations in ms."""
    for _ in range(warmup):
        action()
    durations: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        action()
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def timed_pairs(
    first: Callable[[], object], second: Callable[[], object], count: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Time ``first`` and ``second`` alternately, ``count`` times each after ``warmup`` rounds,
    so that a change in what else the machine is doing weighs on both alike; durations in ms."""
    for _ in range(warmup):
        first()
        second()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(count):
        for action, durations in ((first, ours), (second, theirs)):
            start = time.perf_counter()
            action()
            durations.append((time.perf_counter() - start) * 1000)
    return ours, theirs


@dataclass
class Row:
    """One figure of the results table."""

    section: str
    figure: str
    ours: str
    peer: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """ "met", "NOT met" or "-" (no target)."""
        if self.met is None:
            return "-"
        return "met" if self.met else "NOT met"


def ms(value: float) -> str:
    """Milliseconds for the table."""
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def ratio(ours: float, peer: float) -> str:
    """``ours ÷ peer`` for the table."""
    return f"{ours / peer:.2f}" if peer else "n/a"


def kib(value: float) -> str:
    """Bytes as KiB for the table."""
    return f"{value / 1024:.1f} KiB"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    header = ["section", "figure", "ours", "peer / limit", "ratio", "target", "met", "note"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            row.section,
            row.figure,
            row.ours,
            row.peer,
            row.ratio,
            row.target,
            row.verdict,
            row.note,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
