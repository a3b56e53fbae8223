"""The plain-language summary: what changed, what it would have cost, for whom, who gains or loses.

Each number is given as an HTML span that carries the exact figure (`data-fen`, `data-count`) beside
the words, so a reader sees "0.42 million yuan" and a test can hold it against the JSON.
"""

from __future__ import annotations

from html import escape
from typing import Any

from medassist.whatif.aggregate import Partial, roll_up

LABELS = {"caps": "cap", "deductibles": "deductible", "ratio": "ratio", "threshold": "threshold"}


def _city(policy_id: str) -> str:
    return policy_id.split("-")[0].replace("_", " ").title()


def _label(path: str) -> str:
    """caps.inpatient -> "inpatient cap"; tilt.threshold -> "tilt threshold"; lines[2].ratio.dibao -> ..."""
    parts = [p for p in path.replace("[", ".").replace("]", "").split(".") if p and not p.isdigit()]
    if len(parts) >= 2 and parts[0] in LABELS:
        return f"{' '.join(parts[1:])} {LABELS[parts[0]]}".replace("_", " ")
    return " ".join(parts).replace("_", " ")


def _number(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if x == int(x) and abs(x) >= 1000:
        return f"{int(x):,}"
    return str(v)


def change_phrase(changes: list[dict[str, Any]], title: str | None) -> str:
    if title:
        return escape(title)
    parts = []
    for c in changes:
        if "variant_file" in c:
            parts.append(f"using the variant policy file {escape(str(c['variant_file']))}")
            continue
        verb = "changing"
        try:
            verb = "raising" if float(c["after"]) > float(c["before"]) else "lowering"
        except (TypeError, ValueError):
            pass
        parts.append(f"{verb} the {escape(_city(c['policy_id']))} {escape(_label(c['path']))} "
                     f"from {escape(_number(c['before']))} to {escape(_number(c['after']))}")
    if not parts:
        return "changing nothing"
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def money_words(fen: int) -> str:
    yuan = abs(fen) / 100
    if yuan >= 1_000_000:
        return f"{yuan / 1_000_000:.2f} million yuan"
    return f"{yuan:,.2f} yuan"


def _span(key: str, text: str, **data: int) -> str:
    attrs = "".join(f' data-{k}="{v}"' for k, v in data.items())
    return f'<span class="figure" data-key="{key}"{attrs}>{escape(text)}</span>'


def _people(n: int, verb: str) -> str:
    if n == 0:
        return f"none {verb}"
    return f"{n:,} {'person' if n == 1 else 'people'} {verb}{'s' if n == 1 else ''}"


def _concentration(r: Partial, delta: int) -> str:
    """ "93% of it for dibao and tekun in 3 counties": the fewest categories that make 80% of it."""
    if not delta:
        return ""
    cats = sorted(roll_up(r.base.cube, r.var.cube, "category"), key=lambda x: -abs(x["delta_fen"]))
    chosen, share = [], 0
    for c in cats:
        if c["delta_fen"] * delta <= 0:
            continue
        chosen.append(c)
        share += c["delta_fen"]
        if abs(share) * 100 >= abs(delta) * 80 or len(chosen) == 3:
            break
    counties = sum(1 for c in roll_up(r.base.cube, r.var.cube, "county") if c["delta_fen"])
    pct = round(100 * share / delta)
    names = [c["category"] or "no category" for c in chosen]
    who = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else "no one"
    where = f"{counties} count{'y' if counties == 1 else 'ies'}"
    return f", {_span('share_pct', f'{pct}%', count=pct)} of it for {escape(who)} in {escape(where)}"


def years(r: Partial) -> str:
    """The years the difference falls in (else the years of the events)."""
    months = roll_up(r.base.cube, r.var.cube, "month")
    moved = [m["month"] for m in months if m["delta_fen"]] or [m["month"] for m in months]
    ys = sorted({m[:4] for m in moved if m[:4].isdigit()})
    if not ys:
        return ""
    return f" in {ys[0]}" if len(ys) == 1 else f" in {ys[0]}–{ys[-1]}"


def summary_html(summary: dict[str, Any], r: Partial, title: str | None = None) -> str:
    delta = summary["delta_fen"]
    what = change_phrase(summary["changes"], title)
    when = years(r)
    if delta > 0:
        cost = f"would have cost {_span('delta_fen', money_words(delta), fen=delta)} more{when}"
    elif delta < 0:
        cost = f"would have cost {_span('delta_fen', money_words(delta), fen=delta)} less{when}"
    else:
        cost = f"would have cost {_span('delta_fen', 'nothing', fen=0)} more or less{when}"
    gain = _span("people_gaining", _people(summary["people_gaining"], "gain"), count=summary["people_gaining"])
    lose = _span("people_losing", _people(summary["people_losing"], "lose"), count=summary["people_losing"])
    text = f"{what[0].upper()}{what[1:]} {cost}{_concentration(r, delta)}; {gain}, {lose}."
    return text
