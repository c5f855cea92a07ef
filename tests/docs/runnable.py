"""Find the command blocks the docs mark runnable.

The marker is an HTML comment on the line right before a fenced block (invisible when rendered):

    <!-- runnable -->
    ```bash
    grinder config check examples/grinder.toml
    ```

`<!-- runnable timeout=90 -->` raises the per-block limit (default 60 s). Languages: bash/sh/shell
(run by `bash -e -o pipefail`) and python. docs/operations.md describes the contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!--\s*runnable(?:\s+timeout=(\d+))?\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
SHELLS = ("bash", "sh", "shell")
LANGUAGES = (*SHELLS, "python")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    timeout_s: int

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def doc_files() -> list[Path]:
    """README, docs/ and docs/runbooks/: the documentation an operator reads."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
            *sorted((REPO / "docs" / "runbooks").glob("*.md"))]


def fenced_blocks(path: Path) -> tuple[list[Block], int]:
    """The runnable blocks of one file and the number of all fenced command blocks in it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    runnable: list[Block] = []
    total = 0
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        lang = fence.group(1)
        if lang in LANGUAGES:
            total += 1
        marker = MARKER.match(lines[i - 1]) if i else None
        if marker is not None:
            if lang not in LANGUAGES:
                raise ValueError(f"{path}:{i + 1}: a runnable block must be one of {LANGUAGES}, not {lang!r}")
            runnable.append(Block(path, i + 1, lang, "\n".join(lines[i + 1:end]) + "\n",
                                  int(marker.group(1) or 60)))
        i = end + 1
    return runnable, total


def runnable_blocks() -> list[Block]:
    return [b for path in doc_files() for b in fenced_blocks(path)[0]]
