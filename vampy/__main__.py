"""`python -m vampy` and the `vampy` console script.

The CLI's modules load inside `entry`, so a Ctrl-C during that second of imports ends with the same
"interrupted" line and exit 130 as a Ctrl-C during a run, not with a traceback of the import machinery.
"""
from __future__ import annotations

import sys

INTERRUPTED_EXIT = 130  # errors.EXIT_CODES' value for Ctrl-C; not imported from there, for the reason above


def entry() -> None:
    try:
        from vampy.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(INTERRUPTED_EXIT)
    main()


if __name__ == "__main__":
    entry()
