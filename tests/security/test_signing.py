"""Signed payment instructions: what verifies, what does not, and finance's few lines of Python."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest
from medassist.population import population
from medassist.replay import Replayer
from medassist.schemas import load_schema
from medassist.security import signing
from medassist.stream import instructions

ROOT = Path(__file__).resolve().parents[2]
validate = fastjsonschema.compile(load_schema("instruction"))


def real_instructions(people: int = 30) -> list[dict[str, Any]]:
    r, out = Replayer(), []
    for ev in population(people, seed=5, settlements_per_person=3):
        for d in r.feed(ev):
            ins = instructions.build(d)
            if ins is not None:
                out.append(ins)
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return signing.generate_keys(tmp_path_factory.mktemp("k"), "finance-test")


def test_signed_instructions_verify_and_stay_schema_valid(keys: dict[str, str]) -> None:
    signer, verifier = signing.signer_from_env(keys), signing.verifier_from_env(keys)
    ins = real_instructions()
    assert {i["kind"] for i in ins} == {"assistance", "clawback", "premium_subsidy"}
    for i in ins:
        signer.sign(i)
        validate(i)
        assert i["key_id"] == "finance-test"
        assert verifier.check(orjson.loads(orjson.dumps(i))) is None
    clawback = next(i for i in ins if i["kind"] == "clawback")
    assert clawback["reverses_instruction_id"] in {i["instruction_id"] for i in ins if i["kind"] == "assistance"}


def test_signing_is_deterministic_so_redelivery_republishes_the_same_bytes(keys: dict[str, str]) -> None:
    signer = signing.signer_from_env(keys)
    a, b = real_instructions(3)[0], real_instructions(3)[0]
    assert orjson.dumps(signer.sign(a)) == orjson.dumps(signer.sign(b))
    assert orjson.dumps(signer.sign(a)) == orjson.dumps(b)  # signing again replaces, never stacks


def test_unsigned_forged_altered_and_unknown_key_are_refused(keys: dict[str, str], tmp_path: Path) -> None:
    signer, verifier = signing.signer_from_env(keys), signing.verifier_from_env(keys)
    genuine = signer.sign(real_instructions(3)[0])

    unsigned = {k: v for k, v in genuine.items() if k not in ("signature", "key_id")}
    validate(unsigned)  # valid JSON, valid schema: only the signature tells it apart
    assert verifier.check(unsigned) == ("unsigned", "signature: missing (unsigned instruction)")

    altered = {**genuine, "amount_fen": genuine["amount_fen"] * 10}
    assert verifier.check(altered) == ("bad_signature",
                                      "signature: does not match the instruction (forged or altered)")
    relabelled = {**genuine, "key_id": "other"}  # key_id is covered by the signature too
    assert verifier.check(relabelled)[0] == "unknown_key"

    attacker = signing.signer_from_env(signing.generate_keys(tmp_path / "attacker", "finance-test"))
    forged = attacker.sign(dict(unsigned))  # claims our key id, signed with another key
    validate(forged)
    assert verifier.check(forged)[0] == "bad_signature"

    assert verifier.check({**genuine, "signature": "not base64!"})[0] == "malformed"
    assert verifier.check({**genuine, "signature": base64.b64encode(b"short").decode()})[0] == "malformed"


def test_rotation_accepts_old_and_new_keys_by_id(keys: dict[str, str], tmp_path: Path) -> None:
    new = signing.generate_keys(tmp_path / "new", "finance-test-2")
    public = Path(keys[signing.ENV_VERIFY_KEYS])
    both = tmp_path / "both"
    both.mkdir()
    for d in (public, Path(new[signing.ENV_VERIFY_KEYS])):
        for f in d.glob("*.pem"):
            (both / f.name).write_bytes(f.read_bytes())
    verifier = signing.verifier_from_env({signing.ENV_VERIFY_KEYS: str(both)})
    old_signed = signing.signer_from_env(keys).sign(real_instructions(3)[0])
    new_signed = signing.signer_from_env(new).sign(real_instructions(3)[0])
    assert old_signed["key_id"] != new_signed["key_id"]
    assert verifier.check(old_signed) is None and verifier.check(new_signed) is None


def test_canonical_bytes_are_what_the_standard_library_writes(keys: dict[str, str]) -> None:
    """Finance needs no orjson: json.dumps(sort_keys, compact, ensure_ascii=False) gives the same bytes,
    also for names in Chinese, quotes, backslashes and control characters."""
    odd = {"payee_id": "张三 \"q\" \\ \n\t\x01 \u2028 😀", "b": None, "a": [1, -2, {"z": True, "y": "1.00"}]}
    for obj in [*real_instructions(5), odd]:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert signing.canonical(obj) == text


def test_the_finance_snippet_in_docs_security_md_verifies(keys: dict[str, str]) -> None:
    """The few lines of Python docs/security.md gives finance, run as written, on real messages."""
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(.*?)```", doc, re.S)
    assert snippet is not None
    ns: dict[str, Any] = {}
    exec(snippet.group(1), ns)  # noqa: S102 - our own documentation
    verify = ns["verify"]
    signer = signing.signer_from_env(keys)
    keys_dir = keys[signing.ENV_VERIFY_KEYS]
    good = orjson.dumps(signer.sign(real_instructions(3)[0]))
    assert verify(good, keys_dir) is True
    bad = orjson.loads(good)
    bad["amount_fen"] += 1
    assert verify(orjson.dumps(bad), keys_dir) is False
    del bad["signature"]
    assert verify(orjson.dumps(bad), keys_dir) is False


def test_settings_errors_name_the_setting_never_the_key(tmp_path: Path) -> None:
    with pytest.raises(signing.SettingError, match=r"^MEDASSIST_SIGNING_KEY_FILE: not set"):
        signing.signer_from_env({})
    with pytest.raises(signing.SettingError, match=r"^MEDASSIST_VERIFY_KEYS: not set"):
        signing.verifier_from_env({})
    secret = tmp_path / "k.pem"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0IHNlY3JldA==\n-----END PRIVATE KEY-----\n")
    with pytest.raises(signing.SettingError) as e:
        signing.signer_from_env({signing.ENV_KEY_FILE: str(secret)})
    assert str(e.value).startswith("MEDASSIST_SIGNING_KEY_FILE: ") and "c2Vj" not in str(e.value)
    assert "PRIVATE" not in repr(signing.signer_from_env(signing.generate_keys(tmp_path / "g")))
