"""Monthly push lists of early warnings, one per receiving department (digest §四(一): 民政, 乡村振兴).

A warning belongs to the month of the settlement that raised it (Asia/Shanghai
date). The monitoring topic may repeat a warning (redelivery): the list keeps
one row per `warning_id`. A message that is not a warning is set aside with its
reason; the list is made from the rest.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
import orjson

from medassist.schemas import load_schema

DEPARTMENTS = {"civil_affairs": "民政部门", "rural_revitalisation": "乡村振兴部门"}
KIND_NAMES = {"relapse": "因病返贫预警", "impoverishment": "因病致贫预警"}
COLUMNS = ("warning_id", "insuplc_admdvs", "psn_no", "kind", "kind_name", "measure", "category", "policy_id",
           "setl_date", "setl_id", "out_of_pocket", "threshold", "basis")

_validate = fastjsonschema.compile(load_schema("warning"))


@dataclass
class PushLists:
    month: str
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # department -> rows
    rejected: list[str] = field(default_factory=list)  # "#<n>: why", for messages that are not warnings


def _parse(item: bytes | str | dict[str, Any] | None) -> dict[str, Any]:
    obj = item if isinstance(item, dict) else orjson.loads(item or b"")
    _validate(obj)
    return obj  # type: ignore[no-any-return]


def push_lists(items: Iterable[bytes | str | dict[str, Any] | None], month: str) -> PushLists:
    """The month's push list per department, rows ordered by county, date and person."""
    out = PushLists(month, {d: [] for d in DEPARTMENTS})
    seen: set[str] = set()
    for n, item in enumerate(items):
        try:
            w = _parse(item)
        except orjson.JSONDecodeError:
            out.rejected.append(f"#{n}: not valid JSON")
            continue
        except fastjsonschema.JsonSchemaValueException as e:
            out.rejected.append(f"#{n}: {e.message}")
            continue
        if w["setl_date"][:7] != month or w["warning_id"] in seen:
            continue
        seen.add(w["warning_id"])
        row = {c: w.get(c) for c in COLUMNS if c != "kind_name"}
        row["kind_name"] = KIND_NAMES[w["kind"]]
        for dept in w["notify"]:
            out.lists[dept].append(row)
    for rows in out.lists.values():
        rows.sort(key=lambda r: (r["insuplc_admdvs"], r["setl_date"], r["psn_no"], r["kind"]))
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def read_warnings(bootstrap: str, topic: str) -> list[bytes]:
    """Every message on the monitoring topic, from the beginning to the current end."""
    from medassist.stream.tail import read_topic

    return list(read_topic(bootstrap, topic))
