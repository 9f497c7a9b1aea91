"""The `lrbench` command line (Typer). Only this package prints."""
