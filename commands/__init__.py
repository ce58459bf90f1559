"""The procedures: decisions, plans and workflows. No typer, no rich, no printing."""
