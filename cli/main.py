"""Entry point of the ``ops`` console script and ``python -m deskops``.

``ops --version`` answers before typer is imported: it is what scripts and
health checks call most, and it must cost little more than starting Python.
Every other invocation goes through :func:`deskops.cli.app.run`, which maps
expected errors to one line on stderr and an exit code.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from deskops import __version__

        sys.stdout.write(f"ops {__version__}\n")
        sys.exit(0)
    from .app import run

    sys.exit(run(args))


if __name__ == "__main__":
    main()
