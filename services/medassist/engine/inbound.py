"""One message through the engine: the code replay and the workers share around `Engine.decide`.

`decode` turns a message's bytes into an event and its fingerprint, or into the `invalid`
decision that names why not; `decide` runs the engine and turns an engine error into the
"cannot be decided" decision, so that one bad event never stops a run or a stream.
"""

from __future__ import annotations

from medassist.engine.decide import Engine
from medassist.engine.decision import Decision, decision, invalid
from medassist.engine.events import Event, InvalidEvent, decode_event
from medassist.engine.state import PersonState, StateChange


def decode(value: bytes | None) -> tuple[Event, str] | Decision:
    """(event, fingerprint), or the `invalid` decision of a message that breaks the contract."""
    if value is None:  # a tombstone: nothing to decide
        return invalid(None, "event: no value (tombstone)")
    try:
        return decode_event(value)
    except InvalidEvent as e:
        return invalid(e.obj, str(e))


def decide(engine: Engine, state: PersonState, ev: Event, fp: str) -> tuple[list[Decision], StateChange]:
    """The engine's decisions and change; an engine error decides the event `invalid` and changes nothing."""
    try:
        return engine.decide(state, ev, fp)
    except Exception as e:  # noqa: BLE001 - an engine bug must not stop the run or the stream
        return [decision(type(ev).__name__.lower(), ev.event_id, ev.psn_no, "invalid",
                         reason=f"event: cannot be decided ({type(e).__name__})",
                         setl_id=getattr(ev, "setl_id", None))], StateChange()
