"""The only package that speaks SQL. Everything above it uses kb.model types and `Store`."""

from kb.store.repo import Store, WriteResult

__all__ = ["Store", "WriteResult"]
