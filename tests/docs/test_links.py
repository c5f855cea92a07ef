"""Relative links in README, docs/ and runbooks point at files that exist (and at sections that
exist, for links with an anchor into a Markdown file); no doc names an absolute shared path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.runnable import REPO, doc_files
from tests.ops.test_alerts import anchors

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [m.group(1) for m in LINK.finditer(text)]


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    for link in _links(doc):
        if re.match(r"^[a-z]+:", link) or link.startswith("#"):
            continue
        target, _, anchor = link.partition("#")
        resolved = (doc.parent / target).resolve()
        assert resolved.exists(), f"{doc.name}: link {link} points at a missing file"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{doc.name}: link {link}: no such section"


def test_no_absolute_shared_paths_in_docs_or_code() -> None:
    roots = [*doc_files(), *(REPO / "src").rglob("*.py"), *(REPO / "bench").rglob("*.py")]
    offenders = [str(p.relative_to(REPO)) for p in roots if "/work/shared" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders
