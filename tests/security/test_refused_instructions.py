"""A forged and an altered payment instruction on the real instructions topic: the ledger posts
neither, month-end counts neither, both are reported with their ids and counted in the metric
the MedassistUnverifiedInstruction alert watches (its promtool test: deploy/alerts_test.yml)."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import orjson
import pytest
from kafka import KafkaProducer
from medassist.engine.money import yuan
from medassist.ledger import book as B
from medassist.ledger.consumer import LedgerConsumer, parse
from medassist.ledger.metrics import LedgerMetrics
from medassist.ledger.redis_book import RedisBook
from medassist.monthend.instructions import Intake, is_institution_money
from medassist.monthend.metrics import MonthEndMetrics
from medassist.monthend.run import Options, month_end
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.schemas import load_schema
from medassist.security import signing
from medassist.stream.instructions import instruction_id
from medassist.stream.topics import Topics, ensure_topics
from monthend.make import assistance, clawback

from .test_signing import real_instructions

pytestmark = pytest.mark.integration
validate = fastjsonschema.compile(load_schema("instruction"))


def _produce(bootstrap: str, topic: str, messages: list[dict[str, Any]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for m in messages:
        p.send(topic, key=m["psn_no"].encode(), value=orjson.dumps(m))
    p.flush()
    p.close()


def test_forged_and_altered_instructions_are_neither_posted_nor_counted(
        kafka_broker: TansuBroker, redis_server: RedisServer, topics: Topics, signer: signing.Signer,
        tmp_path: Any) -> None:
    genuine = [signer.sign(i) for i in real_instructions(40)]
    target = next(i for i in genuine if i["kind"] == "assistance" and is_institution_money(i))
    month = target["setl_date"][:7]

    # altered: a real signed instruction paying 1,000 yuan more (its lines still add up)
    altered = orjson.loads(orjson.dumps(target))
    altered["lines"][0]["amount_fen"] += 100_000
    altered["amount_fen"] += 100_000
    altered["amount"] = yuan(altered["amount_fen"])
    # forged: a new payment to the same institution, no signature at all ...
    forged = {k: v for k, v in target.items() if k not in ("signature", "key_id")}
    forged.update(instruction_id=instruction_id("FORGED-1", "S-FORGED-1", "assistance"), event_id="FORGED-1",
                  setl_id="S-FORGED-1")
    # ... and one signed with another key that claims to be ours
    attacker = signing.signer_from_env(signing.generate_keys(tmp_path / "attacker", signer.key_id))
    impostor = attacker.sign({**forged, "instruction_id": instruction_id("FORGED-2", "S-FORGED-2", "assistance"),
                              "event_id": "FORGED-2", "setl_id": "S-FORGED-2"})
    bad = [altered, forged, impostor]
    for m in bad:
        validate(m)  # valid JSON, valid schema: only the signature gives them away
    # and one signed (a worker's bug, say) clawback that names no instruction paid: taken back from nothing
    orphan = orjson.loads(orjson.dumps(target))
    orphan["lines"] = [{**ln, "amount_fen": -ln["amount_fen"]} for ln in orphan["lines"]]
    orphan.update(kind="clawback", amount_fen=-target["amount_fen"], amount=yuan(-target["amount_fen"]),
                  instruction_id=instruction_id("R-ORPHAN", target["setl_id"], "clawback"),
                  reverses_instruction_id=instruction_id("nothing", "S-none", "assistance"),
                  reversed_on=target["setl_date"])
    signer.sign(orphan)
    validate(orphan)

    bootstrap = kafka_broker.bootstrap
    ensure_topics(bootstrap, topics.all())
    _produce(bootstrap, topics.instructions, [*genuine, *bad, orphan])

    # --- the ledger -------------------------------------------------------------------
    book = RedisBook(redis_server.client(), topics.prefix)
    metrics = LedgerMetrics()
    consumer = LedgerConsumer(bootstrap, book, topics, metrics, group=f"{topics.prefix}-ledger")
    try:
        summary = consumer.run(until_end=True)
    finally:
        consumer.close()
    assert summary.posted == len(genuine)
    assert len(summary.rejected) == 4
    assert [r for r in summary.rejected if orphan["instruction_id"] in r] == [
        r for r in summary.rejected if "reverses_instruction_id: names no posted instruction" in r]
    for m in bad:
        assert sum(m["instruction_id"] in r for r in summary.rejected) == 1
    assert sum("signature: does not match the instruction (forged or altered)" in r for r in summary.rejected) == 2
    assert sum("signature: missing (unsigned instruction)" in r for r in summary.rejected) == 1
    unverified = {code: metrics.registry.get_sample_value("medassist_instructions_unverified_total",
                                                          {"reason": code})
                  for code in ("unsigned", "bad_signature", "unknown_key")}
    assert unverified == {"unsigned": 1.0, "bad_signature": 2.0, "unknown_key": 0.0}
    expected = B.MemoryBook()  # what the genuine instructions alone post
    for i in genuine:
        expected.post(parse(orjson.dumps(i), False, signing.verifier_from_env()))
    assert book.load_balances() == expected.load_balances()

    # --- month-end --------------------------------------------------------------------
    me_metrics = MonthEndMetrics()
    s = month_end(month, Options(bootstrap, redis_server.url, topics.prefix, out_dir=str(tmp_path / "out"),
                                 companions=False), me_metrics)
    assert s["intake"]["unverified"] == {"bad_signature": 2, "unsigned": 1}
    set_aside = s["intake"]["set_aside"]
    assert [r.split(":")[0] for r in set_aside] == [m["instruction_id"] for m in bad] + [orphan["instruction_id"]]
    listed = (tmp_path / "out" / f"set_aside-{month}.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [ln.split(",")[0] for ln in listed[1:]] == [r.split(":")[0] for r in set_aside]  # the report's sheet
    honest = Intake().add_all(genuine).check_reversals()
    assert s["net_due"] == yuan(sum(i.amount_fen for i in honest if i.month == month))
    assert me_metrics.registry.get_sample_value("medassist_instructions_unverified_total",
                                                {"reason": "bad_signature"}) == 2.0


def test_a_clawback_is_checked_against_the_instruction_it_reverses(signer: signing.Signer) -> None:
    paid = signer.sign(assistance("A-S-1", "S-1", 100_000, "2023-05-01"))
    claw = signer.sign(clawback("C-1", "S-1", 100_000, "2023-05-01", "2023-05-09"))  # reverses A-S-1
    names_nothing = signer.sign({**clawback("C-2", "S-2", 500, "2023-05-01", "2023-05-09"),
                                 "reverses_instruction_id": "A-S-9"})
    takes_more = signer.sign(clawback("C-3", "S-1", 100_001, "2023-05-01", "2023-05-10"))
    intake = Intake(verifier=signing.verifier_from_env()).add_all([paid, claw, names_nothing, takes_more])
    intake.check_reversals()
    assert sorted(intake.items) == ["A-S-1", "C-1"]
    assert intake.set_aside == [
        "C-2: reverses_instruction_id: names no counted assistance instruction",
        "C-3: reverses_instruction_id: takes back more than, or other than, the instruction paid"]
