"""Rapport: one conversation engine behind every platform adapter."""

__version__ = "0.1.0"
