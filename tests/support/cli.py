"""The CLI run in-process, as a test sees it: `main(args)`'s exit code (typer's SystemExit), 0 on success."""
from __future__ import annotations

import pytest

from vampy.cli import main


def exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    return code if isinstance(code, int) else 0
