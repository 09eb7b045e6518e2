"""Stores: SQL for customers, turns and the inbox; Chroma for vectors."""
