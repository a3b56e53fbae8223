"""Each policy has its page under docs/policies/, and the page cites every clause the file cites."""

from __future__ import annotations

import re
from pathlib import Path

from medassist.engine.policy import POLICY_DIR, read_sources
from medassist.engine.policy_source import parameters

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _refs(value: object) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "ref" and isinstance(v, str):
                found |= {r.strip() for r in v.split(",")}
            else:
                found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def test_every_policy_has_a_page_citing_every_clause_of_its_file() -> None:
    for src in read_sources(POLICY_DIR):
        pid = src.data["policy_id"]
        page = (DOCS / "policies" / f"{pid}.md").read_text(encoding="utf-8")
        cited = set(re.findall(r"§[一二三四五六七八九十百]+(?:\([一二三四五六七八九十]+\))*[0-9]*", page))
        wanted = _refs(src.data)
        assert wanted, pid
        missing = {r for r in wanted if not any(c.startswith(r) for c in cited)}
        assert not missing, (pid, sorted(missing))
        assert list(parameters(src.data)), pid
        # every rule the engine can write on a decision line is explained on the page
        rules = {ln["rule"] for ln in src.data["lines"]} | {s["rule"] for s in src.data.get("supplements", [])}
        for rule in rules:
            assert rule.replace("_", " ") in page.lower() or rule in page, (pid, rule)


def test_the_readme_points_at_docs_not_outside_the_repository() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    for page in ("docs/policies.md", "docs/refusal-codes.md", "docs/contract.md"):
        assert page in readme and (DOCS.parent / page).exists()
