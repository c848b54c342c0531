#!/usr/bin/env bash
# Runs the test suite; fails loudly when pytest collects nothing (its exit code 5 would be silent).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
py="${VAMPY_PYTHON:-$here/.venv/bin/python}"
cd "$here"
"$py" -m pytest tests -q -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "scripts/test.sh: pytest collected no tests: treating that as a failure" >&2
    exit 1
fi
exit "$rc"
