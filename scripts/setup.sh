#!/usr/bin/env bash
# One set-up command for a fresh clone: the system programs the demo and the tests need
# (redis-server; prometheus and promtool; kcat; chromium for the what-if report's browser test), then this package and its dev tools into the
# Python you run it with (an activated virtualenv, or $PYTHON). Safe to run again.
#   python3 -m venv .venv && . .venv/bin/activate && bash scripts/setup.sh
# Exits non-zero, saying what is missing and how to get it, where it cannot install something.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
say() { printf 'setup: %s\n' "$*" >&2; }

"$PYTHON" - <<'PY' || { say "Python >= 3.11 is needed ($PYTHON is $("$PYTHON" -V 2>&1))"; exit 1; }
import sys; sys.exit(sys.version_info < (3, 11))
PY

# program -> Debian package
declare -A package=([redis-server]=redis-server [redis-cli]=redis-tools [prometheus]=prometheus
                    [promtool]=prometheus [kcat]=kcat [chromium]=chromium)
missing=()
for prog in redis-server redis-cli prometheus promtool kcat chromium; do
  command -v "$prog" >/dev/null || missing+=("${package[$prog]}")
done
# a C compiler for the mypyc-compiled engine (MEDASSIST_PURE=1 installs pure Python instead)
if [ "${MEDASSIST_PURE:-0}" != 1 ] && ! command -v cc >/dev/null; then missing+=(gcc libc6-dev); fi
"$PYTHON" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || [ "${MEDASSIST_PURE:-0}" = 1 ] || missing+=(python3-dev)
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

failed=0
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo); else sudo=(none); fi
  if ! command -v apt-get >/dev/null; then
    say "cannot install ${missing[*]}: no apt-get here. Install them with your package manager, then run this again."
    failed=1
  elif [ "${sudo[*]}" = none ]; then
    say "cannot install ${missing[*]}: not root and no password-less sudo. Run: sudo bash scripts/setup.sh"
    failed=1
  else
    say "installing ${missing[*]} (apt-get)"
    # Debian's prometheus and redis-server packages start daemons (:9090, :6379) on install; the tests
    # start their own on free ports, so keep the packages' services from starting at all.
    guard=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
      "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
      guard=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    ok=1
    "${sudo[@]}" apt-get update -qq || ok=0
    [ $ok = 1 ] && { "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || ok=0; }
    [ -n "$guard" ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
    [ $ok = 1 ] || { say "apt-get could not install ${missing[*]} (see above)"; failed=1; }
  fi
fi

say "installing medassist and its dev tools into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[dev]'

for prog in redis-server prometheus promtool kcat chromium; do
  command -v "$prog" >/dev/null || { say "still missing: $prog"; failed=1; }
done
if [ $failed = 1 ]; then
  say "incomplete: the Python package is installed, but the demo or some tests need what is missing above"
  exit 1
fi
say "done: try \`medassist demo\`, then \`python3 -m pytest -q\`"
