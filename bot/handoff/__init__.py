"""Handing a conversation to a person and back: escalation rules, the state machine, the desk."""
