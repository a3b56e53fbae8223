"""Who may move money: instruction signatures, Kafka client security settings, Redis clients.

Imports nothing of medassist, so every layer (stream, ledger, month-end, ops) may use it.
"""
