"""`python measuring_cli.py COUNTER VAMPY_ARGS...`: vampy's command line as `python -m vampy` runs it
(same parsing, signal handling and exit codes), with one addition: each time the progress bar
advances, the number of requests measured so far is written to COUNTER (atomically, by rename).

A test reads COUNTER to act once a run is measuring (tests/support/processes.measuring_run)
instead of sleeping and hoping the sessions have loaded by then. Only the pool's measured phase
advances the bar (warm-up and loading do not), so COUNTER > 0 means measured requests exist.
Run as a file path, so it needs vampy installed and nothing from tests/.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    counter = Path(sys.argv[1])
    import vampy.cli.progress as progress

    class CountingProgress(progress.RichProgress):
        measured = 0

        def advance(self, steps: int = 1) -> None:
            super().advance(steps)
            CountingProgress.measured += steps
            partial = counter.with_name(f".{counter.name}.{os.getpid()}")
            partial.write_text(str(CountingProgress.measured))
            partial.replace(counter)

    progress.RichProgress = CountingProgress  # type: ignore[misc]  # run_cmd imports it when the run starts
    from vampy.cli import main as vampy_main

    vampy_main(sys.argv[2:])


if __name__ == "__main__":
    main()
