"""No module in src/grinder grows past 700 lines (issue 14): a file that long holds several jobs and
should be split along them. The count is physical lines, as `wc -l` gives it."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "grinder"
MAX_LINES = 700


def test_no_module_is_longer_than_700_lines() -> None:
    sizes = {p.relative_to(SRC.parent).as_posix(): len(p.read_bytes().splitlines()) for p in SRC.rglob("*.py")}
    assert len(sizes) > 100  # the walk found the package
    too_long = {path: n for path, n in sorted(sizes.items()) if n > MAX_LINES}
    assert not too_long, f"split these modules along their jobs (at most {MAX_LINES} lines each): {too_long}"
