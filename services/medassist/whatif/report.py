"""`report.html`: one self-contained page (styles inline, charts as inline SVG, nothing fetched).

Charts are drawn by matplotlib to SVG with text kept as text (`svg.fonttype: none`), so the page
stays small and the browser sets the labels; matplotlib is imported only here, when a report is
written.
"""

from __future__ import annotations

import io
import re
from html import escape
from pathlib import Path
from typing import Any

import orjson

from medassist.whatif.aggregate import Partial, deciles, roll_up
from medassist.whatif.narrative import summary_html

BASE_COLOUR, VAR_COLOUR, UP, DOWN = "#7a8794", "#c0392b", "#c0392b", "#2e7d32"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2733;line-height:1.45;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde3e9}
#summary{font-size:1.2rem;background:#f4f6f8;border-left:4px solid #c0392b;padding:1rem 1.2rem}
.figure{font-weight:600} .charts{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
figure{margin:0;background:#fff;border:1px solid #e3e8ee;padding:.5rem} figure.wide{grid-column:1/3}
figure svg{width:100%;height:auto} figcaption{font-size:.9rem;color:#52606d}
table{border-collapse:collapse;font-size:.9rem} td,th{padding:.25rem .6rem;border-bottom:1px solid #e3e8ee}
td.n{text-align:right;font-variant-numeric:tabular-nums} .meta{color:#52606d;font-size:.9rem}
"""


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML


def _figure(width: float = 6.0, height: float = 3.2) -> tuple[Any, Any]:
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable, set in the browser's fonts
    rcParams["svg.hashsalt"] = "medassist-whatif"  # the same ids for the same charts, run after run
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _wan(fen: int) -> float:
    return fen / 100 / 10_000  # 万元: the unit fund statements use


def chart_months(r: Partial) -> str:
    rows = [x for x in roll_up(r.base.cube, r.var.cube, "month") if len(x["month"]) == 7]
    fig, ax = _figure(11, 3.4)
    xs = list(range(len(rows)))
    ax.bar([x - 0.2 for x in xs], [_wan(x["baseline_fen"]) for x in rows], 0.4, label="baseline",
           color=BASE_COLOUR)
    ax.bar([x + 0.2 for x in xs], [_wan(x["variant_fen"]) for x in rows], 0.4, label="variant",
           color=VAR_COLOUR)
    ax.set_xticks(xs, [x["month"] for x in rows], rotation=45, ha="right")
    ax.set_ylabel("fund cost, 10,000 yuan")
    ax.legend(frameon=False)
    return _svg(fig)


def chart_difference(r: Partial, dim: str, label: str) -> str:
    rows = [x for x in roll_up(r.base.cube, r.var.cube, dim) if x["delta_fen"]] or \
        roll_up(r.base.cube, r.var.cube, dim)
    rows.sort(key=lambda x: x["delta_fen"])
    fig, ax = _figure(5.4, max(2.2, 0.35 * len(rows) + 1))
    vals = [_wan(x["delta_fen"]) for x in rows]
    ax.barh([x[dim] or "(none)" for x in rows], vals, color=[UP if v >= 0 else DOWN for v in vals])
    ax.axvline(0, color="#1d2733", linewidth=0.8)
    ax.set_xlabel(f"difference by {label}, 10,000 yuan")
    return _svg(fig)


def chart_burden(r: Partial) -> str:
    """Deciles 10%..90% (the top one, the largest burden, would flatten the rest: it is in the text)."""
    b, v = deciles(r.burden_base)[:9], deciles(r.burden_var)[:9]
    fig, ax = _figure(11, 3.2)
    xs = list(range(1, 10))
    ax.bar([x - 0.2 for x in xs], [x / 100 for x in b], 0.4, color=BASE_COLOUR, label="baseline")
    ax.bar([x + 0.2 for x in xs], [x / 100 for x in v], 0.4, color=VAR_COLOUR, label="variant")
    ax.set_xticks(xs, [f"{10 * x}%" for x in xs])
    ax.set_xlabel("people ranked by yearly out-of-pocket burden after assistance (decile)")
    ax.set_ylabel("yuan")
    ax.legend(frameon=False)
    return _svg(fig)


def _table(rows: list[dict[str, Any]], dim: str, limit: int = 12) -> str:
    rows = sorted(rows, key=lambda x: -abs(x["delta_fen"]))[:limit]
    body = "".join(
        f"<tr><td>{escape(x[dim] or '(none)')}</td><td class=n>{x['baseline_fen'] / 100:,.2f}</td>"
        f"<td class=n>{x['variant_fen'] / 100:,.2f}</td><td class=n>{x['delta_fen'] / 100:+,.2f}</td></tr>"
        for x in rows)
    return (f"<table><tr><th>{escape(dim)}</th><th>baseline 现行 (yuan)</th><th>variant 调整后 (yuan)</th>"
            f"<th>difference 差额 (yuan)</th></tr>{body}</table>")


def render(summary: dict[str, Any], r: Partial, title: str | None = None) -> str:
    caps = sorted(set(r.base.caps) | set(r.var.caps))
    caps_rows = "".join(
        f"<tr><td>{escape(p)}</td><td>{escape(c)}</td><td class=n>{r.base.caps[(p, c)]:,}</td>"
        f"<td class=n>{r.var.caps[(p, c)]:,}</td></tr>" for p, c in caps)
    b, v = deciles(r.burden_base), deciles(r.burden_var)
    charts = [
        ("wide", "chart-month", "Fund cost by month, baseline against variant 按月基金支出", chart_months(r)),
        ("", "chart-county", "Difference by county 按区县差额", chart_difference(r, "county", "county")),
        ("", "chart-category", "Difference by category 按类别差额", chart_difference(r, "category", "category")),
        ("wide", "chart-burden", "Yearly out-of-pocket burden after assistance, by decile 救助后个人年度负担分布",
         chart_burden(r)),
    ]
    figs = "".join(f'<figure class="chart {cls}" id="{cid}">{svg}<figcaption>{escape(cap)}</figcaption></figure>'
                   for cls, cid, cap, svg in charts)
    data = orjson.dumps(summary).decode().replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medassist what-if</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>What if 政策调整测算</h1>
<p class="meta">{summary['events']:,} events, {summary['people']:,} people, replayed under the policies in force
(baseline 现行) and the changed ones (variant 调整后).</p>
<p id="summary">{summary_html(summary, r, title)}</p>
<h2>Charts 图表</h2>
<div class="charts">{figs}</div>
<h2>Burden after assistance 救助后负担</h2>
<p>Median yearly out-of-pocket burden: {b[4] / 100:,.2f} yuan (baseline), {v[4] / 100:,.2f} yuan (variant);
the largest: {b[9] / 100:,.2f} yuan (baseline), {v[9] / 100:,.2f} yuan (variant).
People above their city's early-warning threshold: {summary['people_warned_baseline']:,} (baseline),
{summary['people_warned_variant']:,} (variant); {summary['people_with_warning_gaps']:,} people's city needs an
operator figure for its threshold that is not set.</p>
<h2>Where the difference goes 差额去向</h2>
<div class="charts"><div>{_table(roll_up(r.base.cube, r.var.cube, 'county'), 'county')}</div>
<div>{_table(roll_up(r.base.cube, r.var.cube, 'category'), 'category')}</div></div>
<h2>Caps that bind 触顶</h2>
<table><tr><th>policy</th><th>cap</th><th>baseline: times</th><th>variant: times</th></tr>{caps_rows}</table>
<script type="application/json" id="whatif-summary">{data}</script>
</body></html>
"""


def write_report(path: Path, summary: dict[str, Any], r: Partial, title: str | None = None) -> Path:
    html = render(summary, r, title)
    if re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html):  # a page that fetches is not self-contained
        raise AssertionError("report.html would fetch from the network")
    path.write_text(html, encoding="utf-8")
    return path
