"""The errors a command reports in one line, each with the exit code it ends with.

cli.main() prints `medassist <command>: <message>` for these and exits with `exit_code`; a
traceback is printed only with --debug. docs/operations.md lists the codes.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the work itself failed (a worker died, a timeout, the demo disagreed with replay)
EXIT_USAGE = 2  # an argument is wrong: nothing was started
EXIT_UNREACHABLE = 3  # the broker or Redis does not answer: nothing was started
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGTERM ends with 143)


class CommandError(Exception):
    """A failure the operator can act on, said in one line."""

    exit_code = EXIT_FAILED


class UsageError(CommandError):
    exit_code = EXIT_USAGE


class Unreachable(CommandError):
    exit_code = EXIT_UNREACHABLE
