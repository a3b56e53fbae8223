"""`medassist whatif` as an operator runs it, and its report.html in a real browser (Debian's chromium)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from medassist.population import population
from openpyxl import load_workbook

from tests.whatif.browser import CHROMIUM, open_page

ROOT = Path(__file__).resolve().parents[2]
# Screenshots the test run keeps: MEDASSIST_ARTIFACTS, else artifacts/ in the checkout (git-ignored).
ARTIFACTS = Path(os.environ.get("MEDASSIST_ARTIFACTS", ROOT / "artifacts"))
KEYS = {"events", "people", "baseline_fen", "variant_fen", "delta_fen", "people_gaining", "people_losing", "seconds"}

# What the browser shows: each chart's drawn size and marks, the summary's figures as read on screen.
PAGE_JS = """(() => {
  const charts = [...document.querySelectorAll('figure.chart')].map(f => {
    const svg = f.querySelector('svg'); const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, width: r.width, height: r.height,
            marks: svg ? svg.querySelectorAll('path, rect, use').length : 0,
            caption: f.querySelector('figcaption').innerText};
  });
  const figures = {};
  for (const s of document.querySelectorAll('#summary .figure')) {
    figures[s.dataset.key] = {text: s.innerText, fen: s.dataset.fen, count: s.dataset.count,
                              visible: s.getBoundingClientRect().width > 0};
  }
  const external = [...document.querySelectorAll('[src],[href],link')]
    .map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => !u.startsWith('#'));
  return {title: document.title, summary: document.querySelector('#summary').innerText, charts, figures,
          external, resources: performance.getEntriesByType('resource').length};
})()"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    d = tmp_path_factory.mktemp("whatif-cli")
    events = d / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in population(400, seed=5)))
    out = d / "out"
    done = subprocess.run([sys.executable, "-m", "medassist.cli", "whatif", str(events),
                           "--set", "qinhuangdao-2023:caps.regular_total=30000",
                           "--set", "qinhuangdao-2023:caps.inpatient=30000", "--out", str(out), "--workers", "2"],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    last = orjson.loads(done.stdout.splitlines()[-1])
    assert b"whatif: replayed" in done.stderr and b"events" in done.stderr and b"/s" in done.stderr  # progress
    return out, last


def test_the_last_line_and_the_files(run: tuple[Path, dict[str, object]]) -> None:
    out, s = run
    assert KEYS <= set(s)
    assert s["delta_fen"] == int(s["variant_fen"]) - int(s["baseline_fen"]) > 0  # type: ignore[call-overload]
    assert int(s["people_gaining"]) > 0 and s["people_losing"] == 0  # type: ignore[call-overload]
    for name in ("county", "category", "rule", "month", "payee"):
        with (out / f"impact_by_{name}.csv").open(encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        assert "差额" in rows[0][-1] and "difference" in rows[0][-1]
        assert sum(int(r[-1]) for r in rows[1:]) == s["delta_fen"]
        assert sum(int(r[1]) for r in rows[1:]) == s["baseline_fen"]
    with (out / "people_changed.csv").open(encoding="utf-8-sig") as f:
        people = list(csv.reader(f))[1:]
    assert len(people) == s["people_changed"] and all(p[0].startswith("P") for p in people)
    assert sum(int(p[3]) for p in people) == s["delta_fen"]
    assert (out / "burden_deciles.csv").read_text(encoding="utf-8-sig").count("\n") == 11
    caps = (out / "caps_binding.csv").read_text(encoding="utf-8-sig")
    assert "qinhuangdao-2023,regular_total" in caps
    wb = load_workbook(out / "whatif.xlsx", read_only=True)
    sheet = wb["按区县 county"]
    zh, en = (list(r) for r in sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    assert zh[0] == "参保地区划" and en[0].startswith("county") and "yuan" in en[-1]
    total = sum(r[-1] for r in sheet.iter_rows(min_row=3, values_only=True))
    assert round(total * 100) == s["delta_fen"]
    assert orjson.loads((out / "summary.json").read_bytes())["delta_fen"] == s["delta_fen"]


@pytest.mark.needs("chromium")
def test_report_in_a_real_browser(run: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium (/usr/bin/chromium) is needed"
    out, s = run
    shot = tmp_path / "whatif-report.png"
    page = open_page((out / "report.html").as_uri(), PAGE_JS, shot)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "whatif-report.png")

    assert page["external"] == [] and page["resources"] == 0  # self-contained: nothing fetched
    charts = {c["id"]: c for c in page["charts"]}
    assert set(charts) == {"chart-month", "chart-county", "chart-category", "chart-burden"}
    for c in charts.values():
        assert c["width"] > 300 and c["height"] > 120 and c["marks"] > 10, c

    f = page["figures"]
    assert all(x["visible"] for x in f.values())
    assert int(f["delta_fen"]["fen"]) == s["delta_fen"]
    yuan = int(s["delta_fen"]) / 100  # type: ignore[call-overload]
    shown = f"{yuan / 1e6:.2f} million yuan" if yuan >= 1e6 else f"{yuan:,.2f} yuan"
    assert f["delta_fen"]["text"] == shown
    assert int(f["people_gaining"]["count"]) == s["people_gaining"]
    assert f["people_gaining"]["text"] == f"{s['people_gaining']:,} people gain"
    assert int(f["people_losing"]["count"]) == s["people_losing"] == 0
    assert f["people_losing"]["text"] == "none lose"
    assert page["summary"].startswith("Raising the Qinhuangdao regular total cap from 20,000 to 30,000")
    assert "would have cost" in page["summary"]

    from PIL import Image

    img = Image.open(shot)
    assert img.width >= 1000 and img.height > 1500
    # the red of the variant's bars is on the page: the charts were painted, not just laid out
    colours = img.convert("RGB").getcolors(maxcolors=1 << 24) or []
    reds = sum(n for n, rgb in colours if rgb == (0xC0, 0x39, 0x2B))
    assert reds > 5000
