"""`python workers_peak_rss.py OUT VAMPY_ARGS...`: vampy's command line as `python -m vampy` runs it,
then the peak resident memory of its largest child process, in bytes, written to OUT.

The kernel keeps each process's high-water mark of resident memory and hands it to the parent that
waits for it (getrusage RUSAGE_CHILDREN: the largest of the waited-for children). vampy's parent
waits for (joins) its spawned workers before it returns, so this is the largest worker's peak over
its whole life: exact, whatever the machine's speed, where a sampling monitor only sees the moments
it happens to look. Run as a file path, so it needs vampy installed and nothing from tests/.
"""
from __future__ import annotations

import resource
import sys
from pathlib import Path

KIB = 1024  # Linux reports ru_maxrss in KiB


def main() -> None:
    out = Path(sys.argv[1])
    from vampy.cli import main as vampy_main

    code: int | str | None = 0
    try:
        vampy_main(sys.argv[2:])
    except SystemExit as exc:
        code = exc.code
    out.write_text(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * KIB))
    sys.exit(code)


if __name__ == "__main__":
    main()
