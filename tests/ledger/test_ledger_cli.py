"""`medassist ledger` end to end on the real broker and Redis: movements file, consume, interest, statement."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from ledger_data import fushun_quarter
from medassist.cli import main
from medassist.ops.embedded import RedisServer, TansuBroker
from medassist.stream.topics import Topics


@pytest.mark.integration
def test_ledger_commands(kafka_broker: TansuBroker, redis_server: RedisServer, topics: Topics, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--bootstrap", kafka_broker.bootstrap, "--redis", redis_server.url, "--prefix", topics.prefix]
    moves = [m for k, m in fushun_quarter() if k == "movement"]
    f = tmp_path / "moves.jsonl"
    f.write_bytes(b"\n".join(orjson.dumps(m) for m in moves) + b"\n{broken\n"
                  + orjson.dumps({**moves[0], "movement_id": "Mx", "amount": "1.234"}) + b"\n")
    assert main(["ledger", "movements", str(f), *common]) == 0
    err = capsys.readouterr().err
    assert f"{f}:6: not valid JSON" in err and f"{f}:7: amount: must match pattern" in err
    assert "published 5 fund movements" in err

    assert main(["ledger", "consume", "--until-end", *common]) == 0
    assert orjson.loads(capsys.readouterr().out)["posted"] == 5
    assert main(["ledger", "interest", "--quarter", "2024Q1", *common]) == 0
    assert orjson.loads(capsys.readouterr().out)["amount"] == "12.34"
    assert main(["ledger", "consume", "--until-end", *common]) == 0  # same group: only the interest move is new
    assert orjson.loads(capsys.readouterr().out)["posted"] == 1

    assert main(["ledger", "statement", "--month", "2024-03", *common]) == 0
    st = orjson.loads(capsys.readouterr().out)
    # 120012.34 raised (70000 + 30000 + 20000 + 12.34 interest), nothing paid: the March fund balance;
    # the interest has moved: special 40000.00 + 12.34, expenditure 80000.00.
    assert (st["county"], st["closing_fen"]) == ("210402", 12_001_234)
    assert st["accounts"]["special"]["closing_fen"] == 4_001_234
    assert st["accounts"]["expenditure"]["closing_fen"] == 8_000_000
    assert main(["ledger", "statement", "--month", "2024-03", "--rebuild", *common]) == 0
    assert orjson.loads(capsys.readouterr().out) == st
    assert main(["ledger", "statement", "--month", "2024-3", *common]) == 2
