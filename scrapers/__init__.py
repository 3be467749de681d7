"""Bytes from the network (or from recorded files) turned into plain records.

This package knows nothing of `kb`: it fetches, archives and parses. Every format module
follows the same small contract (see `scrapers.registry`).
"""
