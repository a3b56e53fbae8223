"""deploy/redis/users.acl, installed: its password placeholders filled with SHA-256 hashes.

The template in the repository names each user's commands and keys and holds no secret; at
install time each `#<NAME-password-sha256>` becomes the hash of NAME's password, read from a
file, and the comments are dropped (redis-server's ACL file has no comment syntax).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from medassist.security.errors import SettingError

PLACEHOLDER = re.compile(r"<([a-z-]+)-password-sha256>")


def render(template: str, passwords: Mapping[str, str]) -> str:
    """The ACL file for redis-server's --aclfile; raises SettingError for a user without a password."""
    out = []
    for line in template.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for name in PLACEHOLDER.findall(line):
            if not passwords.get(name):
                raise SettingError(f"redis ACL: no password for user {name!r}")
        out.append(PLACEHOLDER.sub(lambda m: hashlib.sha256(passwords[m.group(1)].encode()).hexdigest(), line))
    return "\n".join(out) + "\n"
