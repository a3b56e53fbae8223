"""The one error a security setting raises when it cannot be used."""

from medassist.errors import UsageError


class SettingError(UsageError, ValueError):
    """A key, password, certificate or protocol setting that cannot be used.

    The message starts with the environment variable to fix and never carries a secret:
    `medassist` prints it as one line and exits 2 before starting anything (cli.main).
    """
