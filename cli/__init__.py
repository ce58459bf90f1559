"""Typer wiring, options, output, errors and configuration."""
