"""Alerts: targets from kb.toml, the facts of an alert, their formats, delivery, the outbox."""
