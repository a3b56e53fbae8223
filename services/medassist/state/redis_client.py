"""Redis clients for a URL: a Redis Cluster client when the server is a cluster node, else a plain one.

Detected from the server (`INFO cluster` -> `cluster_enabled:1`), so no deployment can forget a
flag: the same `MEDASSIST_REDIS_URL` names any node of a cluster or a single server. Every key
medassist writes carries a hash tag ({person}, {namespace:county}, {namespace}), so whatever
one script or transaction touches sits in one slot.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis

from medassist.security.redis_auth import redis_options


def _enabled(info: dict[str, Any]) -> bool:
    return str(info.get("cluster_enabled", "0")) == "1"


def is_cluster(url: str) -> bool:
    c = redis.Redis.from_url(url, socket_timeout=5.0, **redis_options(url))
    try:
        return _enabled(c.info("cluster"))
    finally:
        c.close()


async def is_cluster_async(url: str, **kw: Any) -> bool:
    c = aioredis.from_url(url, socket_timeout=5.0, **redis_options(url), **kw)
    try:
        return _enabled(await c.info("cluster"))
    finally:
        await c.aclose()


def sync_client(url: str) -> redis.Redis:
    """The client for the ledger, month-end and the close records (bytes, not decoded).

    A `RedisCluster` is not a `redis.Redis` by class, but offers the same commands, pipelines
    and (on one slot) WATCH/MULTI; callers use only those.
    """
    if is_cluster(url):
        return redis.RedisCluster.from_url(url, **redis_options(url))  # type: ignore[return-value]
    return redis.Redis.from_url(url, **redis_options(url))  # its ACL user and TLS, when configured
