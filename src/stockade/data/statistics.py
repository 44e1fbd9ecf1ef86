"""Length statistics of a dataset, computed in one streaming pass with bounded memory.

Count, min, max and mean are exact. Percentiles come from a uniform reservoir sample of at most
``RESERVOIR`` values (exact for smaller datasets), so a multi-GB import never holds every length.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

RESERVOIR = 100_000


@dataclass
class LengthStatistics:
    count: int = 0
    total: int = 0
    minimum: int | None = None
    maximum: int | None = None
    _sample: list[int] = field(default_factory=list)
    _random: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 - sampling only

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)
        if len(self._sample) < RESERVOIR:
            self._sample.append(value)
        else:
            slot = self._random.randrange(self.count)
            if slot < RESERVOIR:
                self._sample[slot] = value

    def percentile(self, fraction: float) -> int | None:
        if not self._sample:
            return None
        ordered = sorted(self._sample)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "min": self.minimum,
            "mean": round(self.total / self.count, 2) if self.count else None,
            "p50": self.percentile(0.5),
            "p95": self.percentile(0.95),
            "max": self.maximum,
            "exact_percentiles": self.count <= RESERVOIR,
        }
