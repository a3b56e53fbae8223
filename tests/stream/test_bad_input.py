"""Hostile input on the real stream: every bad message is dead-lettered with its own reason,
every good one is paid as replay pays it, and the one worker process never restarts.

One worker (a real `medassist worker` process), the session's Tansu broker, a fresh
redis-server. Messages are produced one by one, so each one's partition and offset are
known and its dead letter can be found by its source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest
from kafka import KafkaProducer
from medassist.ops.cluster import WorkerProcess, end_total, wait_processed
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.population import population
from medassist.replay import Replayer
from medassist.schemas import load_schema
from medassist.security.signing import signer_from_env
from medassist.stream import deadletter
from medassist.stream.config import WorkerConfig
from medassist.stream.instructions import build as instructions_of
from medassist.stream.tail import read_topic
from medassist.stream.topics import Topics, ensure_topics

pytestmark = pytest.mark.integration

# The contract's examples: Qinhuangdao, a dibao recipient, inpatient at a level-3 hospital.
GRANT = {"type": "eligibility", "event_id": "E-A", "psn_no": "PA", "insuplc_admdvs": "130300",
         "category": "dibao", "action": "grant", "reported_at": "2023-03-04", "dibao_class": "urban_full"}
SETTLE = {"type": "settlement", "event_id": "S-A1", "setl_id": "S-A1", "mdtrt_id": "M-A1", "psn_no": "PA",
          "insuplc_admdvs": "130300", "fixmedins_code": "H13030100001", "hosp_lv": "3", "designated": True,
          "med_type": "21", "opsp_kind": None, "dise_codg": "C50.9", "special_disease": False,
          "major_disease": False, "gend": "2", "age": 45, "begndate": "2023-05-01",
          "setl_time": "2023-05-10T10:00:00+08:00", "medfee_sumamt": "35000.00", "inscp_scp_amt": "30000.00",
          "hifp_pay": "18000.00", "hifmi_pay": "2000.00", "hifob_pay": "0", "cvlserv_pay": "0",
          "hifes_pay": "0", "insured": True, "emergency": False, "referral": True, "location": "local",
          "remote_reg_date": None, "settlement_mode": "direct"}
REVERSE = {"type": "reversal", "event_id": "R-A1", "setl_id": "S-A1", "psn_no": "PA",
           "insuplc_admdvs": "130300", "setl_time": "2023-05-12T09:00:00+08:00"}


def ev(base: dict[str, Any], **kw: Any) -> bytes:
    d = {k: v for k, v in {**base, **kw}.items() if v is not ...}
    return orjson.dumps(d)


def s(n: int, **kw: Any) -> bytes:
    """A settlement of PA with its own ids (so only the named fault is wrong)."""
    return ev(SETTLE, event_id=f"S-X{n}", setl_id=f"S-X{n}", **kw)


PA = b"PA"
HUGE = s(1, note="x" * 300_000)
# (name, key, value, reason, reason_code, words the detail must contain or None)
HOSTILE: list[tuple[str, bytes | None, bytes | None, str, str, str | None]] = [
    ("truncated JSON", PA, b'{"type": "settlement", "psn_no": ', "event: not valid JSON", "invalid:event",
     "unexpected end of data"),
    ("binary garbage", PA, bytes(range(255, -1, -1)), "event: not valid JSON", "invalid:event", "at byte 0"),
    ("empty value", PA, b"", "event: not valid JSON", "invalid:event", "at byte 0"),
    ("tombstone", PA, None, "event: no value (tombstone)", "invalid:event", None),
    ("deeply nested", PA, b'{"a":' * 5000 + b"1" + b"}" * 5000, "event: not valid JSON", "invalid:event",
     "depth limit exceeded"),
    ("JSON array", PA, b"[1, 2, 3]", "event: not a JSON object", "invalid:event", None),
    ("JSON string", PA, b'"settlement"', "event: not a JSON object", "invalid:event", None),
    ("huge message", PA, HUGE, f"event: too large ({len(HUGE)} bytes, limit 262144)", "invalid:event", None),
    ("unknown type", PA, s(2, type="refund"), "type: unknown event type 'refund'", "invalid:type", None),
    ("missing type", PA, s(3, type=...), "type: unknown event type None", "invalid:type", None),
    ("missing setl_time", PA, s(4, setl_time=...), "setl_time: missing", "invalid:setl_time", None),
    ("missing psn_no", PA, s(5, psn_no=...), "psn_no: missing", "invalid:psn_no", None),
    ("age not a number", PA, s(6, age="forty"), "age: must be integer or null", "invalid:age", None),
    ("amount a boolean", PA, s(7, medfee_sumamt=True), "medfee_sumamt: must be string or number",
     "invalid:medfee_sumamt", None),
    ("negative amount", PA, s(8, hifp_pay="-18000.00"), "hifp_pay: negative amount", "invalid:hifp_pay", None),
    ("absurd amount 1e12 yuan", PA, s(9, medfee_sumamt=1e12),
     "medfee_sumamt: absurd amount (above 10,000,000.00 yuan)", "invalid:medfee_sumamt", None),
    ("absurd amount as text", PA, s(10, medfee_sumamt="1000000000000.00"),
     "medfee_sumamt: absurd amount (above 10,000,000.00 yuan)", "invalid:medfee_sumamt", None),
    ("three decimals", PA, s(11, inscp_scp_amt="30000.005"), "inscp_scp_amt: more than two decimals",
     "invalid:inscp_scp_amt", None),
    ("three decimals, number", PA, s(12, medfee_sumamt=35000.125), "medfee_sumamt: more than two decimals",
     "invalid:medfee_sumamt", None),
    ("no such date", PA, s(13, begndate="2023-02-30"), "begndate: not a calendar date", "invalid:begndate", None),
    ("time without offset", PA, s(14, setl_time="2023-05-10 10:00"),
     "setl_time: not an ISO 8601 time with offset", "invalid:setl_time", None),
    ("insured scope above the fee", PA, s(15, inscp_scp_amt="40000.00"), "inscp_scp_amt: more than medfee_sumamt",
     "invalid:inscp_scp_amt", None),
    ("control characters in psn_no", b"P\x00", s(16, psn_no="P\x00"), "psn_no: not printable ASCII without spaces",
     "invalid:psn_no", None),
    ("hash-tag braces in psn_no", b"A}:o:X", s(17, psn_no="A}:o:X"), "psn_no: contains { or }",
     "invalid:psn_no", None),
    # which categories exist is policy data (a well-formed unknown one is category_not_covered): not a name at all
    ("malformed category", PA, ev(GRANT, event_id="E-X1", category="Martian!"),
     "category: must match pattern ^[a-z][a-z0-9_]{0,39}$", "invalid:category", None),
    ("unknown region", PA, s(18, insuplc_admdvs="990000"), "no_policy_in_force", "unknown_region",
     "no policy covers insuplc_admdvs 990000"),
    ("no policy in force (2001)", PA, s(19, setl_time="2001-05-10T10:00:00+08:00", begndate="2001-05-01"),
     "no_policy_in_force", "no_policy_in_force", "in force on 2001-05-10"),
    ("enrollment, unknown region", PA,
     orjson.dumps({"type": "enrollment", "event_id": "N-X1", "psn_no": "PA", "insuplc_admdvs": "990000",
                   "year": 2023, "insutype": "390", "contribution": "380.00"}),
     "no_policy_in_force", "unknown_region", "990000"),
    ("reversal of an unknown settlement", PA, ev(REVERSE, event_id="R-X1", setl_id="S-NOPE"),
     "unknown_settlement", "unknown_settlement", None),
    ("event_id reused, other contents", PA, ev(SETTLE, medfee_sumamt="36000.00"),
     "event_id: reused with different contents", "invalid:event_id", None),
    ("setl_id settled twice", PA, ev(SETTLE, event_id="S-X20"), "duplicate_settlement", "duplicate_settlement",
     None),
    ("null key", None, s(21), "key: missing (events are keyed by psn_no)", "invalid:key", None),
    ("key of another person", b"PB", s(22), "key: not the event's psn_no", "invalid:key", None),
]
STREAM_ONLY = {"tombstone", "null key", "key of another person"}  # replay reads no keys


def _messages() -> list[tuple[str, bytes | None, bytes | None]]:
    """(name, key, value): good events with a hostile one after every good one, in an order
    where the person-dependent ones (reuse, duplicate) follow the settlement they clash with."""
    good: list[tuple[str, bytes | None, bytes | None]] = [("good", PA, orjson.dumps(GRANT)),
                                                          ("good", PA, orjson.dumps(SETTLE)),
                                                          ("good", PA, orjson.dumps(SETTLE))]  # a redelivery
    good += [("good", e["psn_no"].encode(), orjson.dumps(e)) for e in population(4, seed=11)]
    out: list[tuple[str, bytes | None, bytes | None]] = []
    hostile = [(n, k, v) for n, k, v, *_ in HOSTILE]
    while good or hostile:
        if good:
            out.append(good.pop(0))
        if hostile:
            out.append(hostile.pop(0))
    out.append(("good", PA, orjson.dumps(REVERSE)))
    out.append(("reversed twice", PA, ev(REVERSE, event_id="R-A2")))
    return out


def canon(d: Any) -> bytes:
    return orjson.dumps(d, option=orjson.OPT_SORT_KEYS)


def test_hostile_messages_are_dead_lettered_and_the_worker_keeps_paying(
        kafka_broker: TansuBroker, redis_server: RedisServer, topics: Topics, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, topics.all(), partitions=2)
    cfg = WorkerConfig(bootstrap=bootstrap, redis_url=redis_server.url, topics=topics,
                       group=f"{topics.prefix}-workers", partitions=2, fast_rebalance=True,
                       datadir=str(tmp_path / "faust"), metrics_port=0)
    worker = WorkerProcess(cfg, "w0", tmp_path).start()
    assert worker.proc is not None
    pid = worker.proc.pid
    try:
        msgs = _messages()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=1024 * 1024)
        sources: dict[tuple[int, int], str] = {}
        for name, key, value in msgs:
            md = producer.send(topics.events, value=value, key=key).get(timeout=30)
            sources[(md.partition, md.offset)] = name
        producer.close()
        assert len([n for n in sources.values() if n != "good"]) == len(HOSTILE) + 1 >= 20
        wait_processed(bootstrap, cfg.group, topics.events, end_total(bootstrap, topics.events), 90.0,
                       [worker], progress=False)
        decisions = [orjson.loads(v) for v in read_topic(bootstrap, topics.decisions)]
        dead = [orjson.loads(v) for v in read_topic(bootstrap, topics.deadletters)]
        instructions = [orjson.loads(v) for v in read_topic(bootstrap, topics.instructions)]
        # the same process all along: never crashed, never restarted
        assert worker.alive and worker.proc.pid == pid
    finally:
        worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "crashed" not in log.lower(), log[-3000:]

    replay = Replayer()  # replay reads no Kafka keys or tombstones: those three are the stream's own
    replayed = {src: replay.feed(value or b"") if name not in STREAM_ONLY else []
                for src, (name, _, value) in zip(sources, msgs, strict=True)}
    check_dead = fastjsonschema.compile(load_schema("deadletter"))
    for dl in dead:
        check_dead(dl)

    # every hostile message has exactly one dead letter, found by its source, with its own reason
    by_source = {(d["source"]["partition"], d["source"]["offset"]): d for d in dead}
    assert len(by_source) == len(dead)  # one dead letter per message: no redelivery, no double
    expected = {n: (reason, code, detail) for n, _, _, reason, code, detail in HOSTILE}
    expected["reversed twice"] = ("already_reversed", "already_reversed", None)
    seen = set()
    for src, name in sources.items():
        if name == "good":
            # a well-formed event is dead-lettered exactly where replay refuses the message itself
            # (the sample population has enrollments dated before their city's policy)
            refused = [d["reason"] for d in replayed[src] if deadletter.is_dead(d)]
            assert refused == ([by_source[src]["reason"]] if src in by_source else []), (src, refused)
            continue
        assert src in by_source, f"{name}: no dead letter"
        dl = by_source[src]
        reason, code, detail = expected[name]
        assert (dl["reason"], dl["reason_code"]) == (reason, code), name
        if detail is not None:
            assert detail in (dl["detail"] or ""), (name, dl["detail"])
        assert dl["source"]["topic"] == topics.events
        seen.add(name)
    assert seen == set(expected)

    # the original bytes travel with the dead letter: text when UTF-8, base64 otherwise
    garbage = next(d for d in dead if d["reason"] == "event: not valid JSON" and d["value_base64"])
    assert garbage["value_text"] is None and garbage["value_bytes"] == 256
    tomb = next(d for d in dead if d["reason"] == "event: no value (tombstone)")
    assert tomb["value_text"] is None and tomb["value_base64"] is None and tomb["value_bytes"] is None
    braces = next(d for d in dead if d["reason"] == "psn_no: contains { or }")
    assert orjson.loads(braces["value_text"])["event_id"] == "S-X17"

    # every decision is replay's, but for the three the stream alone can see (a redelivered event
    # re-publishes its stored decision, identical, where replay says nothing: compare distinct bodies)
    want = {canon(d) for ds in replayed.values() for d in ds}
    got = {canon(d) for d in decisions}
    assert got - want == {canon(d) for d in decisions if d["reason"] in
                          ("event: no value (tombstone)", "key: missing (events are keyed by psn_no)",
                           "key: not the event's psn_no")}
    assert want - got == set()
    assert len(decisions) == sum(len(ds) for ds in replayed.values()) + 3 + 1  # + the redelivered S-A1

    # worked numbers: base 30000.00 - 18000.00 - 2000.00 = 10000.00, inpatient 80% -> 8000.00, once;
    # the reversal claws back exactly that, referencing the original instruction
    bodies: dict[str, set[bytes]] = {}
    for i in instructions:
        bodies.setdefault(i["instruction_id"], set()).add(canon(i))
    assert all(len(b) == 1 for b in bodies.values())  # an id never carries two different bodies
    unique = {i["instruction_id"]: i for i in instructions}
    paid = [i for i in unique.values() if i["setl_id"] == "S-A1"]
    assert sorted((i["kind"], i["amount_fen"]) for i in paid) == [("assistance", 800000), ("clawback", -800000)]
    pay = next(i for i in paid if i["kind"] == "assistance")
    claw = next(i for i in paid if i["kind"] == "clawback")
    assert pay["lines"][0]["base_fen"] == 1000000 and pay["lines"][0]["ratio"] == "0.80"
    assert claw["reverses_instruction_id"] == pay["instruction_id"]
    # nothing hostile moved money: the instructions are exactly those of replay's decisions
    sign = signer_from_env().sign  # as the worker signed them (the session's key; Ed25519 is deterministic)
    want_ins = {instructions_of(d)["instruction_id"]: canon(sign(instructions_of(d)))
                for ds in replayed.values() for d in ds if instructions_of(d) is not None}
    assert {k: canon(v) for k, v in unique.items()} == want_ins
    validate = fastjsonschema.compile(load_schema("instruction"))
    for i in unique.values():
        validate(i)
