"""How far a replay got, for a person watching it (pure): rate, time left, one status line."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """`done` of `total` events applied in `elapsed` seconds."""

    done: int
    total: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Events per second so far (0 before the first second's worth of work)."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None while nothing is applied yet."""
        if self.done >= self.total:
            return 0.0
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    @property
    def fraction(self) -> float:
        """Share done, 1.0 for an empty log."""
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0


def duration(seconds: float | None) -> str:
    """`42s`, `3:07`, `1:02:03`; `?` when unknown."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}" if minutes else f"{secs}s"


def thousands(n: float) -> str:
    """An integer with dots between thousands, as written in Venezuela: 1.234.567."""
    return f"{int(round(n)):,}".replace(",", ".")


def line(p: Progress, width: int = 24) -> str:
    """`[#########...............]  38 %  380.000/1.000.000 eventos  9.512 ev/s  faltan 1:05`."""
    filled = int(p.fraction * width)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {int(p.fraction * 100):3d} %  "
            f"{thousands(p.done)}/{thousands(p.total)} eventos  {thousands(p.rate)} ev/s  faltan {duration(p.eta)}")
