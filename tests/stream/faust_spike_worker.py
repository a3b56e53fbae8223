"""One faust worker of the Tansu spike (run as a subprocess by test_faust_tansu.py).

Records every processed event and every assignment in Redis, acking each event only
after its Redis write succeeded (noack_take + stream.ack), as the real workers will.
Configured by environment: SPIKE_BOOTSTRAP, SPIKE_GROUP, SPIKE_TOPIC, SPIKE_REDIS,
SPIKE_WORKER, SPIKE_DATADIR (and SPIKE_SETTINGS, JSON overrides for experiments).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import faust
import redis.asyncio as aioredis
from faust.worker import Worker
from medassist.stream.faust_settings import commit_on_revoke, faust_app_kwargs

env = os.environ
WID = env["SPIKE_WORKER"]
kwargs = faust_app_kwargs(env["SPIKE_BOOTSTRAP"], env["SPIKE_GROUP"], fast=True,
                          datadir=env["SPIKE_DATADIR"])
kwargs.update(json.loads(env.get("SPIKE_SETTINGS", "{}")))  # experiments only
app = faust.App(env["SPIKE_GROUP"], **kwargs)
topic = app.topic(env["SPIKE_TOPIC"], key_type=bytes, value_serializer="json")
r = aioredis.Redis.from_url(env["SPIKE_REDIS"])


@app.on_partitions_assigned.connect
async def on_assigned(sender: Any, assigned: Any, **kw: Any) -> None:
    parts = sorted(tp.partition for tp in assigned if tp.topic == env["SPIKE_TOPIC"])
    await r.rpush("assign", json.dumps([WID, time.time(), parts]))


if env.get("SPIKE_COMMIT_ON_REVOKE", "1") == "1":  # "0" shows faust's default behaviour
    commit_on_revoke(app)


@app.agent(topic, concurrency=1)
async def process(stream: Any) -> None:
    async for events in stream.noack_take(100, within=0.05):
        for ev in events:
            v = ev.value
            rec = [WID, v["event_id"], v["psn_no"], v["seq"], ev.message.partition,
                   ev.message.offset, time.time()]
            await r.rpush("processed", json.dumps(rec))  # the "Redis update"
            await stream.ack(ev)  # only after the write succeeded


if __name__ == "__main__":
    Worker(app, loglevel="INFO", redirect_stdouts=False).execute_from_commandline()
