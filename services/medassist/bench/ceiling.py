"""Raw broker ceiling: plain aiokafka produce-all then consume-all, no faust, no Redis.

`medassist bench stream` reports it as `ceiling_per_s`, measured on the same broker
in the same run, so the end-to-end rate can be read against what the broker and the
client library can do at all on this machine.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from medassist.stream.topics import ensure_topics

# a settlement event as on the wire (contract.md); padded/trimmed to payload_bytes
_TEMPLATE: dict[str, Any] = {
    "type": "settlement", "event_id": "S-0", "setl_id": "S-0", "mdtrt_id": "M-0",
    "psn_no": "P000000", "insuplc_admdvs": "130300", "fixmedins_code": "H13030100001",
    "hosp_lv": "3", "designated": True, "med_type": "21", "opsp_kind": None,
    "dise_codg": "C50.9", "special_disease": False, "major_disease": False,
    "gend": "2", "age": 45, "begndate": "2023-05-01",
    "setl_time": "2023-05-10T10:00:00+08:00", "medfee_sumamt": "35000.00",
    "inscp_scp_amt": "30000.00", "hifp_pay": "18000.00", "hifmi_pay": "2000.00",
    "hifob_pay": "0", "cvlserv_pay": "0", "hifes_pay": "0", "insured": True,
    "emergency": False, "referral": True, "location": "local", "remote_reg_date": None,
    "settlement_mode": "direct",
}


def make_payload(i: int, payload_bytes: int, persons: int = 10_000) -> tuple[bytes, bytes]:
    """(key, value) of a realistic JSON event of exactly `payload_bytes` (if >= ~600)."""
    psn = f"P{i % persons:06d}"
    ev = dict(_TEMPLATE, event_id=f"S-{i}", setl_id=f"S-{i}", mdtrt_id=f"M-{i}", psn_no=psn)
    base = json.dumps(ev, separators=(",", ":"))
    pad = max(0, payload_bytes - len(base) - len(',"note":""'))
    ev["note"] = "x" * pad
    return psn.encode(), json.dumps(ev, separators=(",", ":")).encode()


async def raw_ceiling_async(bootstrap: str, n_messages: int = 50_000,
                            payload_bytes: int = 900, partitions: int = 4,
                            topic: str | None = None, timeout_s: float = 300.0,
                            messages: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    """`messages` (key, value): the very events the workers get, so the two rates compare like with like."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    topic = topic or f"medassist.bench.ceiling.{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(ensure_topics, bootstrap, [topic], partitions)
    msgs = messages if messages is not None else [make_payload(i, payload_bytes) for i in range(n_messages)]
    n_messages = len(msgs)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_batch_size=256 * 1024, enable_idempotence=False)
    await producer.start()
    try:
        t0 = time.perf_counter()
        pending = []
        for key, value in msgs:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 5000:  # bound memory; keep the pipeline full
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        produce_s = time.perf_counter() - t0
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None,
                                max_partition_fetch_bytes=4 * 1024 * 1024,
                                fetch_max_bytes=32 * 1024 * 1024)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        t1 = time.perf_counter()
        got = 0
        nbytes = 0
        deadline = time.monotonic() + timeout_s
        while got < n_messages:
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumed {got}/{n_messages} in {timeout_s}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                got += len(records)
                nbytes += sum(len(r.value or b"") for r in records)
        consume_s = time.perf_counter() - t1
    finally:
        await consumer.stop()

    if got != n_messages:
        raise AssertionError(f"consumed {got} messages, produced {n_messages}")
    return {
        "messages": n_messages,
        "payload_bytes": round(sum(len(v) for _, v in msgs) / max(1, n_messages)),
        "partitions": partitions,
        "produce_s": round(produce_s, 3),
        "consume_s": round(consume_s, 3),
        "produce_per_s": round(n_messages / produce_s),
        "consume_per_s": round(n_messages / consume_s),
        "ceiling_per_s": round(n_messages / (produce_s + consume_s)),
        "consume_mib_per_s": round(nbytes / consume_s / 2**20, 1),
        "topic": topic,
    }


def raw_ceiling(bootstrap: str, n_messages: int = 50_000, payload_bytes: int = 900,
                partitions: int = 4) -> dict[str, Any]:
    """Messages/s producing all, consuming all, and overall (n / (produce + consume))."""
    return asyncio.run(raw_ceiling_async(bootstrap, n_messages, payload_bytes, partitions))


if __name__ == "__main__":  # python -m medassist.bench.ceiling [N] [BYTES] [PARTITIONS]
    import sys

    from medassist.ops.embedded import TansuBroker

    args = [int(a) for a in sys.argv[1:4]]
    with TansuBroker() as broker:
        print(json.dumps(raw_ceiling(broker.bootstrap, *args)))
