"""The compiled engine must never run older code than its source.

setup.py compiles the engine's modules with mypyc. In an editable install each extension
module sits beside its .py and is what Python imports, so after an edit the old code would
still run. `import medassist` refuses that, naming the rebuild command (a checkout only:
an installed wheel's modules are built once and never edited).
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

GROUP_LIB = "medassist_native__mypyc"  # setup.py's GROUP: the shared library with every compiled module's code
REBUILD = "pip install -e . (or MEDASSIST_PURE=1 pip install -e . for pure Python, no compiler)"


class StaleBuild(ImportError):
    """An extension module older than its source would shadow it."""


def stale_modules(package: Path, group_lib: str = GROUP_LIB) -> list[str]:
    """Sources edited after the build whose extension module (it shadows the .py) would still run."""
    built_any = [p for s in EXTENSION_SUFFIXES for p in package.rglob("*" + s)]
    if not built_any:
        return []  # a pure install
    group = [p for s in EXTENSION_SUFFIXES for p in package.parent.glob(group_lib + s)]
    stale = []
    for py in sorted(package.rglob("*.py")):
        built = [p for p in (py.with_name(py.stem + s) for s in EXTENSION_SUFFIXES) if p.exists()]
        if not built:
            continue  # not compiled: the .py itself runs
        # The code is in the group library; the per-module shim is rebuilt only when its C text changes.
        newest = max(p.stat().st_mtime for p in built + group)
        if py.stat().st_mtime > newest:
            stale.append(str(py.relative_to(package.parent)))
    return stale


def refuse_stale(package: Path) -> None:
    if not (package.parent.parent / "setup.py").is_file():
        return  # not a checkout
    stale = stale_modules(package)
    if stale:
        raise StaleBuild(f"compiled modules older than their source would run instead of it ({', '.join(stale)}): "
                         f"rebuild: {REBUILD}")
