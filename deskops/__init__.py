"""deskops: the `ops` command-line toolkit for support and order back-offices."""

__version__ = "0.1.0"
