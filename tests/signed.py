"""Sign instructions the tests make themselves, with the session's key (conftest.signing_keys)."""

from __future__ import annotations

from typing import Any

from medassist.security.signing import signer_from_env


def signed(ins: dict[str, Any]) -> dict[str, Any]:
    """`ins`, signed as a worker would sign it (after any change the test made to it)."""
    return signer_from_env().sign(ins)
