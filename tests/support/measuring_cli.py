"""`python measuring_cli.py COUNTER VAMPY_ARGS...`: vampy's command line as `python -m vampy` runs it
(same parsing, signal handling and exit codes), with one addition: each time a progress object
advances (`vampy run`'s bar, or the NullProgress that `vampy sweep` hands each point's run), the
number of requests measured so far, in all, is written to COUNTER (atomically, by rename).

A test reads COUNTER to act once a run is measuring (tests/support/processes.measuring_run), or once
a sweep's next point is (the count grows past the finished points' samples), instead of sleeping and
hoping the sessions have loaded by then. Only the pool's measured phase advances (warm-up and
loading do not), so a count that grows means measured requests of the current run exist.
Run as a file path, so it needs vampy installed and nothing from tests/.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    counter = Path(sys.argv[1])
    import vampy.cli.progress as bar
    import vampy.progress as null

    measured = [0]

    def count(steps: int) -> None:
        measured[0] += steps
        partial = counter.with_name(f".{counter.name}.{os.getpid()}")
        partial.write_text(str(measured[0]))
        partial.replace(counter)

    class CountingBar(bar.RichProgress):
        def advance(self, steps: int = 1) -> None:
            super().advance(steps)
            count(steps)

    class CountingNull(null.NullProgress):
        def advance(self, steps: int = 1) -> None:
            count(steps)

    # Both are imported where a command starts its work, so these names are the ones it finds.
    bar.RichProgress = CountingBar  # type: ignore[misc]
    null.NullProgress = CountingNull  # type: ignore[misc]
    from vampy.cli import main as vampy_main

    vampy_main(sys.argv[2:])


if __name__ == "__main__":
    main()
