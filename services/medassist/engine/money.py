"""Money as integer fen, ratios as exact fractions.

Floats never touch an amount: yuan arrive as JSON numbers or decimal strings and
are turned into fen from their decimal text; ratios are kept as numerator and
denominator so a line is rounded half-up exactly once, to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass

# A single hospital settlement above ten million yuan is not a real settlement:
# refusing it keeps a typo (or an attack) from draining a county's fund.
MAX_FEN = 10_000_000_00


class MoneyError(ValueError):
    """A yuan amount that breaks the contract; the message says how."""


def to_fen(value: object) -> int:
    """Yuan (JSON number or decimal string, <= 2 decimals, >= 0) to fen."""
    if isinstance(value, bool):
        raise MoneyError("not an amount")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise MoneyError("not a finite amount")
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MoneyError("not an amount")
    if text.startswith("-"):
        raise MoneyError("negative amount")
    whole, dot, frac = text.partition(".")
    if not whole.isdigit() or (dot and not (frac.isdigit() or frac == "")):
        raise MoneyError("not a decimal amount")
    if len(frac) > 2:
        if frac[2:].strip("0"):
            raise MoneyError("more than two decimals")
        frac = frac[:2]
    fen = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    if fen > MAX_FEN:
        raise MoneyError("absurd amount (above 10,000,000.00 yuan)")
    return fen


_CENTS = [f"{c:02d}" for c in range(100)]


def yuan(fen: int) -> str:
    """Fen to the wire's yuan text with two decimals ("-12.05" for clawbacks)."""
    if fen >= 0:  # the common case, without the sign work or a format spec
        return f"{fen // 100}.{_CENTS[fen % 100]}"
    q, r = divmod(-fen, 100)
    return f"-{q}.{r:02d}"


@dataclass(frozen=True, slots=True)
class Ratio:
    """An exact ratio such as 0.67, applied with half-up rounding to the fen."""

    num: int
    den: int
    text: str

    @classmethod
    def parse(cls, text: str | int | float) -> Ratio:
        s = str(text).strip()
        whole, _, frac = s.partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()):
            raise ValueError(f"ratio {text!r} is not a decimal")
        den = 10 ** len(frac)
        num = int(whole) * den + (int(frac) if frac else 0)
        if num > den:
            raise ValueError(f"ratio {text!r} is above 1")
        shown = f"{num / den:.2f}" if len(frac) <= 2 else s
        return cls(num, den, shown)

    def apply(self, fen: int) -> int:
        """ratio x fen, rounded half-up to the fen (fen is never negative here)."""
        return (2 * fen * self.num + self.den) // (2 * self.den)

    def __str__(self) -> str:
        return self.text


ONE = Ratio(1, 1, "1.00")
