"""Commands of feature packages (search, site, signals, ...), one module per feature.

Each module defines `register(app: typer.Typer) -> None` and keeps heavy imports inside the
command functions, so `kb --help` stays instant. kb.cli registers every module found here.
"""
