"""`medassist ...`: thin; each command calls the module that does the work."""

from __future__ import annotations

import argparse
import sys


def _replay(args: argparse.Namespace) -> int:
    from medassist.replay import replay_file

    try:
        replay_file(args.file)
    except OSError as e:
        print(f"medassist replay: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medassist", description="Medical-assistance settlement cluster")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("replay", help="run the engine over a JSONL file, in memory")
    r.add_argument("file")
    r.set_defaults(func=_replay)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
