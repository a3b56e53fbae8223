"""The pure policy engine: events in, decisions and state changes out. No I/O."""
