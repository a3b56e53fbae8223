"""The engine the tests exercise is the one `pip install -e .` builds: compiled with mypyc (setup.py).

Unless MEDASSIST_PURE is set, every module setup.py lists must load from its extension module, so a
build that quietly fell back to Python (and CI testing the slow path) fails here. With MEDASSIST_PURE
set, none may: a leftover extension module would shadow the sources a developer is editing.
"""

from __future__ import annotations

import importlib
import os
import time
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest
from conftest import GROUP_LIB, setup_literal, stale_compiled_modules

ROOT = Path(__file__).resolve().parents[2]


def compiled_list() -> list[str]:
    paths = setup_literal("COMPILED")
    assert isinstance(paths, list)
    return paths


def module_name(path: str) -> str:
    return path.removeprefix("services/").removesuffix(".py").replace("/", ".")


def pure_requested() -> bool:
    return os.environ.get("MEDASSIST_PURE", "").strip().lower() not in ("", "0", "false", "no")


def test_the_compiled_list_names_the_engine() -> None:
    paths = compiled_list()
    for p in paths:
        assert (ROOT / p).is_file(), p
    names = {module_name(p) for p in paths}
    assert {"medassist.engine.decide", "medassist.engine.policy",
            "medassist.replay"} <= names


@pytest.mark.parametrize("name", [module_name(p) for p in compiled_list()])
def test_engine_module_is_compiled_unless_pure(name: str) -> None:
    module = importlib.import_module(name)
    origin = str(module.__file__)
    compiled = origin.endswith(tuple(EXTENSION_SUFFIXES))
    if pure_requested():
        assert not compiled, (f"MEDASSIST_PURE is set but {name} loads from {origin}: "
                              "rebuild: MEDASSIST_PURE=1 pip install -e . (it removes the extension modules)")
    else:
        assert compiled, (f"{name} runs as Python ({origin}), not compiled: rebuild: pip install -e . "
                          "(set MEDASSIST_PURE=1 to test the pure-Python install on purpose)")


def test_a_source_newer_than_its_build_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "medassist"
    (pkg / "engine").mkdir(parents=True)
    for name in ("decide", "money", "policy"):
        (pkg / "engine" / f"{name}.py").write_text("")
    suffix = EXTENSION_SUFFIXES[0]
    (pkg / "engine" / f"decide{suffix}").write_bytes(b"")
    (pkg / "engine" / f"money{suffix}").write_bytes(b"")
    now = time.time()
    os.utime(pkg / "engine" / "decide.py", (now, now))  # edited after the build
    os.utime(pkg / "engine" / f"decide{suffix}", (now - 60, now - 60))
    os.utime(pkg / "engine" / "money.py", (now - 60, now - 60))
    os.utime(pkg / "engine" / f"money{suffix}", (now - 30, now - 30))
    assert stale_compiled_modules(pkg) == ["medassist/engine/decide.py"]  # policy.py: not compiled, never stale
    group = tmp_path / f"{GROUP_LIB}{suffix}"
    group.write_bytes(b"")  # a rebuild writes the group library even when a shim's C text is unchanged
    os.utime(group, (now + 1, now + 1))
    assert stale_compiled_modules(pkg) == []


def test_importing_a_checkout_with_a_stale_build_is_refused_naming_the_rebuild(tmp_path: Path) -> None:
    from medassist.compiled import StaleBuild, refuse_stale

    (tmp_path / "setup.py").write_text("")
    pkg = tmp_path / "services" / "medassist"
    (pkg / "engine").mkdir(parents=True)
    suffix = EXTENSION_SUFFIXES[0]
    (pkg / "engine" / "decide.py").write_text("")
    (pkg / "engine" / f"decide{suffix}").write_bytes(b"")
    now = time.time()
    os.utime(pkg / "engine" / f"decide{suffix}", (now - 60, now - 60))
    with pytest.raises(StaleBuild, match=r"medassist/engine/decide\.py.*rebuild: pip install -e \."):
        refuse_stale(pkg)
    os.utime(pkg / "engine" / f"decide{suffix}", (now + 1, now + 1))  # rebuilt
    refuse_stale(pkg)
    (tmp_path / "setup.py").unlink()  # an installed wheel: never edited, not checked
    os.utime(pkg / "engine" / f"decide{suffix}", (now - 60, now - 60))
    refuse_stale(pkg)
