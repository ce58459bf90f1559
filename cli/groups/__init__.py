"""One module per command group; each exposes ``app``."""
