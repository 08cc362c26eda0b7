"""The command line: a thin typer layer over library functions; the only place that prints."""
