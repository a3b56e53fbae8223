"""Build: the pure policy engine is compiled to C extensions with mypyc; everything else stays Python.

All metadata is in pyproject.toml; this file only adds the extension modules. Set MEDASSIST_PURE=1 to
install without compiling (pure Python, no C compiler needed). In an editable install
(`pip install -e .`) the compiled modules are built next to their .py sources and shadow them:
after editing one of COMPILED, run `pip install -e .` again (tests/conftest.py refuses stale ones).
"""

from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from setuptools import setup

# The modules `medassist replay` spends its time in (tests/engine/test_compiled.py reads this list).
COMPILED = [
    "services/medassist/engine/decide.py",
    "services/medassist/engine/state.py",
    "services/medassist/engine/money.py",
    "services/medassist/engine/events.py",  # msgspec Structs stay Python classes; the checks and fen compile
    "services/medassist/engine/dates.py",
    "services/medassist/engine/decision.py",
    "services/medassist/engine/policy.py",
    "services/medassist/engine/rules/admission.py",
    "services/medassist/engine/rules/caps.py",
    "services/medassist/engine/rules/eligibility.py",
    "services/medassist/engine/rules/premium.py",
    "services/medassist/engine/rules/regular.py",
    "services/medassist/engine/rules/routing.py",
    "services/medassist/engine/rules/supplement.py",
    "services/medassist/engine/rules/tilt.py",
    "services/medassist/engine/rules/warnings.py",
    "services/medassist/replay.py",
    "services/medassist/state/memory.py",
]
GROUP = "medassist_native"  # the one shared library holding the compiled code: services/medassist_native__mypyc.*.so
HERE = Path(__file__).resolve().parent


def pure() -> bool:
    return os.environ.get("MEDASSIST_PURE", "").strip().lower() not in ("", "0", "false", "no")


def remove_compiled() -> None:
    """A pure install must not leave an earlier build's extension modules shadowing the sources."""
    stems = [HERE / p.removesuffix(".py") for p in COMPILED] + [HERE / "services" / f"{GROUP}__mypyc"]
    for stem in stems:
        for suffix in EXTENSION_SUFFIXES:
            so = stem.with_name(stem.name + suffix)
            if so.exists():
                print(f"MEDASSIST_PURE: removing {so.relative_to(HERE)}")
                so.unlink()


if pure():
    remove_compiled()
    ext_modules = []
else:
    from mypyc.build import mypycify

    # group_name: a stable name for the shared library instead of a hash of the module list.
    ext_modules = mypycify(COMPILED, opt_level="3", group_name=GROUP)

setup(ext_modules=ext_modules)
