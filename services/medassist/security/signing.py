"""Ed25519 signatures on payment instructions: the worker signs, the ledger, month-end and finance verify.

What is signed is the instruction's canonical bytes: the JSON object without its `signature`
field, keys sorted, no whitespace, UTF-8 (what `json.dumps(obj, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)` writes), so the signature does not depend on how a
producer happened to lay the message out, and `key_id` is covered by it. Verifying needs only the
public keys, so finance can check a message without being able to make one.

Keys never live in the repository:
  MEDASSIST_SIGNING_KEY_FILE   the worker's private key (PEM, PKCS#8), or
  MEDASSIST_SIGNING_KEY        the same PEM text in the environment
  MEDASSIST_SIGNING_KEY_ID     its id (default: derived from the public key, see `key_id_of`)
  MEDASSIST_VERIFY_KEYS        a directory of public keys, one `<key_id>.pem` each: every key
                               whose signatures are accepted (old and new during a rotation)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from medassist.security.errors import SettingError

SIGNATURE = "signature"
KEY_ID = "key_id"

ENV_KEY_FILE = "MEDASSIST_SIGNING_KEY_FILE"
ENV_KEY = "MEDASSIST_SIGNING_KEY"
ENV_KEY_ID = "MEDASSIST_SIGNING_KEY_ID"
ENV_VERIFY_KEYS = "MEDASSIST_VERIFY_KEYS"


class KeySettingError(SettingError):
    """A key setting that cannot be used; the message names the setting, never the key."""


def canonical(ins: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: every field but `signature`, keys sorted, compact JSON."""
    return orjson.dumps({k: v for k, v in ins.items() if k != SIGNATURE}, option=orjson.OPT_SORT_KEYS)


def key_id_of(public: Ed25519PublicKey) -> str:
    """A short, stable id for a public key: 'ed25519-' + 16 hex digits of its SHA-256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]


class Unverified(NamedTuple):
    """Why an instruction is not accepted: `code` labels the metric, `reason` is "field: why"."""

    code: str  # unsigned | unknown_key | malformed | bad_signature
    reason: str


class Signer:
    """Adds `key_id` and `signature` to an instruction. Ed25519 is deterministic: a redelivered
    event republishes byte-identical instructions."""

    def __init__(self, private: Ed25519PrivateKey, key_id: str | None = None) -> None:
        self._private = private
        self.key_id = key_id or key_id_of(private.public_key())

    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    def sign(self, ins: dict[str, Any]) -> dict[str, Any]:
        ins.pop(SIGNATURE, None)
        ins[KEY_ID] = self.key_id
        ins[SIGNATURE] = base64.b64encode(self._private.sign(canonical(ins))).decode()
        return ins

    def __repr__(self) -> str:  # never the key
        return f"Signer(key_id={self.key_id!r})"


class Verifier:
    """Checks instructions against the public keys it knows, by key id."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.keys = dict(keys)

    def check(self, ins: Mapping[str, Any]) -> Unverified | None:
        """None when the signature holds; else why not (the instruction is then set aside)."""
        sig, kid = ins.get(SIGNATURE), ins.get(KEY_ID)
        if sig is None or sig == "":
            return Unverified("unsigned", "signature: missing (unsigned instruction)")
        if not isinstance(kid, str) or not kid:
            return Unverified("unsigned", "key_id: missing")
        key = self.keys.get(kid)
        if key is None:
            return Unverified("unknown_key", f"key_id: unknown signing key {kid[:40]!r}")
        try:
            raw = base64.b64decode(sig, validate=True) if isinstance(sig, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 64:
            return Unverified("malformed", "signature: not a base64 Ed25519 signature")
        try:
            key.verify(raw, canonical(ins))
        except InvalidSignature:
            return Unverified("bad_signature", "signature: does not match the instruction (forged or altered)")
        return None


# ---- keys from files and the environment -----------------------------------------------------

def load_private_key(pem: bytes, setting: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeySettingError(f"{setting}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeySettingError(f"{setting}: not an Ed25519 key")
    return key


def load_public_key(pem: bytes, setting: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise KeySettingError(f"{setting}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeySettingError(f"{setting}: not an Ed25519 key")
    return key


def signer_from_env(env: Mapping[str, str] | None = None) -> Signer:
    """The worker's signer; raises KeySettingError naming the setting when there is none usable."""
    e = os.environ if env is None else env
    if e.get(ENV_KEY_FILE):
        try:
            pem = Path(e[ENV_KEY_FILE]).read_bytes()
        except OSError as err:
            raise KeySettingError(f"{ENV_KEY_FILE}: cannot read {e[ENV_KEY_FILE]} ({err.strerror})") from None
        key = load_private_key(pem, ENV_KEY_FILE)
    elif e.get(ENV_KEY):
        key = load_private_key(e[ENV_KEY].encode(), ENV_KEY)
    else:
        raise KeySettingError(f"{ENV_KEY_FILE}: not set (the worker signs every payment instruction; "
                        f"give it a private key file, or {ENV_KEY})")
    return Signer(key, e.get(ENV_KEY_ID) or None)


def verifier_from_env(env: Mapping[str, str] | None = None) -> Verifier:
    """Every `<key_id>.pem` in MEDASSIST_VERIFY_KEYS; raises KeySettingError when there is none."""
    e = os.environ if env is None else env
    where = e.get(ENV_VERIFY_KEYS)
    if not where:
        raise KeySettingError(f"{ENV_VERIFY_KEYS}: not set (a directory of <key_id>.pem public keys; "
                        "no payment instruction is posted or counted unverified)")
    return Verifier(load_public_keys(Path(where)))


def load_public_keys(directory: Path) -> dict[str, Ed25519PublicKey]:
    try:
        files = sorted(directory.glob("*.pem"))
    except OSError as err:
        raise KeySettingError(f"{ENV_VERIFY_KEYS}: cannot read {directory} ({err.strerror})") from None
    keys = {f.stem: load_public_key(f.read_bytes(), f"{ENV_VERIFY_KEYS}/{f.name}") for f in files}
    if not keys:
        raise KeySettingError(f"{ENV_VERIFY_KEYS}: no <key_id>.pem public key in {directory}")
    return keys


def generate_keys(directory: str | Path, key_id: str | None = None) -> dict[str, str]:
    """A new key pair in `directory` (private key mode 0600, public key under public/<key_id>.pem);
    returns the environment that uses them. For the embedded stack and the tests: production keys
    are made and kept by whoever runs the workers, never by the code."""
    d = Path(directory)
    (d / "public").mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    kid = key_id or key_id_of(private.public_key())
    key_file = d / f"{kid}.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    (d / "public" / f"{kid}.pem").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {ENV_KEY_FILE: str(key_file), ENV_KEY_ID: kid, ENV_VERIFY_KEYS: str(d / "public")}
