"""The `kb` commands, one module per concept (run, browse, db, search, site, signals, ...).

Each module defines `register(app: typer.Typer) -> None` and keeps heavy imports inside the
command functions, so `kb --help` stays instant. kb.cli registers the modules named in its
COMMANDS; common.py holds what they share (consoles, store, options, progress bar).
"""
