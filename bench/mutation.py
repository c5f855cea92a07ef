#!/usr/bin/env python3
"""Mutation score of the decision core (mutmut 3), module by module. Not part of CI: it is long.

Each target below is one group of source files and the narrowest test selection that covers it.
For each target the script builds a scratch copy of the repository (src/, tests/, pyproject.toml
with a generated ``[tool.mutmut]`` table) under --workdir, runs ``mutmut run`` there, and reads
mutmut's own verdicts. Nothing is written into the work tree. Surviving mutants that were read
and judged equivalent are listed in docs/testing.md (lines ``- `mutant.name`: reason``); they are
reported apart and left out of the score.

    python bench/mutation.py                       # every target, 1 worker (the machine is shared)
    python bench/mutation.py --only rules gates     # a few targets
    python bench/mutation.py --jobs 2 --keep        # keep the scratch copies to inspect survivors

The last line is one JSON object: killed / survived / timeout / no_tests counts summed over the
targets, the equivalent survivors, and ``score_pct`` = killed / (killed + non-equivalent survivors
+ no_tests), with timeouts counted as killed (a mutant that makes a test loop forever is detected).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "testing.md"


@dataclass(frozen=True)
class Target:
    name: str
    sources: tuple[str, ...]  # files under src/ to mutate
    tests: tuple[str, ...]  # pytest selection that covers them


TARGETS = (
    Target("rules", ("src/grinder/core/rules.py",),
           ("tests/core/test_rules.py", "tests/core/test_rules_mutants.py")),
    Target("risk", ("src/grinder/risk/guard.py", "src/grinder/risk/rate.py", "src/grinder/risk/config.py"),
           ("tests/risk",)),
    # The execution and strategy property tests (tests/*/test_properties.py) pin their own example
    # counts (30-40 random paths, ~45 s per run): far too slow to rerun per mutant on a shared
    # machine, so these targets are scored by the example-based tests only (a conservative score).
    Target("execution", ("src/grinder/execution/order_manager.py", "src/grinder/execution/working.py",
                         "src/grinder/execution/pipeline.py"),
           ("tests/execution/test_order_manager.py", "tests/execution/test_pipeline.py",
            "tests/execution/test_execution_mutants.py")),
    Target("strategy", ("src/grinder/strategy/grid.py", "src/grinder/strategy/controller.py",
                        "src/grinder/strategy/toxicity.py"),
           ("tests/strategy/test_scenarios.py", "tests/strategy/test_toxicity.py",
            "tests/strategy/test_reference_grid.py", "tests/strategy/test_strategy_mutants.py")),
    Target("gates", ("src/grinder/connector/gates.py",), ("tests/connector/test_gates.py",)),
)



def equivalent_mutants() -> dict[str, str]:
    """`- `name`: reason` lines of docs/testing.md's equivalent-mutant list."""
    if not DOC.exists():
        return {}
    found = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^- `([\w.]+__mutmut_\d+)`: (.+)$", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    return found


def toml_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


LOG_LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}


def one_line_log_calls(path: Path) -> None:
    """Rewrite each multi-line `log.<level>(...)` statement of `path` (a scratch copy) onto one line.

    Log text is not a decision; mutmut's `do_not_mutate_patterns` skips lines that start with
    `log.<level>(`, and this makes that cover the continuation lines too. Behaviour is unchanged.
    """
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    spans = []
    for node in ast.walk(ast.parse(text)):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute) and node.value.func.attr in LOG_LEVELS
                and isinstance(node.value.func.value, ast.Name) and node.value.func.value.id == "log"
                and node.end_lineno is not None and node.end_lineno > node.lineno):
            spans.append((node.lineno, node.end_lineno, node.col_offset, ast.unparse(node.value)))
    for start, end, col, code in sorted(spans, reverse=True):
        lines[start - 1:end] = [" " * col + code + "\n"]
    path.write_text("".join(lines), encoding="utf-8")


def prepare(target: Target, root: Path) -> None:
    root.mkdir(parents=True)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for source in target.sources:
        one_line_log_calls(root / source)
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    text += (
        "\n[tool.mutmut]\n"
        f"source_paths = [\"src\"]\n"
        f"only_mutate = {toml_list(target.sources)}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(target.tests)}\n"
        "pytest_add_cli_args = [\"-p\", \"no:cacheprovider\", \"-q\"]\n"
        "use_git_change_detection = false\n"
        # Log statements are not decisions: their text and level are left unmutated.
        "do_not_mutate_patterns = [\"^\\\\s*log\\\\.(debug|info|warning|error|exception)\\\\(\"]\n"
    )
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    shared = REPO.parent / "shared"
    if shared.exists() and not (root.parent / "shared").exists():
        (root.parent / "shared").symlink_to(shared)


def verdicts(root: Path) -> dict[str, int | None]:
    """Mutant name -> exit code, from mutmut's per-file .meta records."""
    out: dict[str, int | None] = {}
    for meta in (root / "mutants").rglob("*.meta"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        out.update(data.get("exit_code_by_key", {}))
    return out


SAMPLE_PATTERNS = {1: [], 2: ["*[02468]"], 5: ["*[05]"], 10: ["*0"]}


def run_target(
    target: Target, base: Path, jobs: int, sample: int, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """Run mutmut on one target; with `previous`, rerun only its survivors and merge the verdicts."""
    root = base / target.name
    if root.exists():
        shutil.rmtree(root)
    prepare(target, root)
    names = (previous["survivors"] + previous["equivalent_names"] + previous["no_tests"]) if previous else []
    if previous and not names:
        return previous
    t0 = time.monotonic()
    env = {**os.environ, "GRINDER_HYPOTHESIS_PROFILE": "mutation"}
    cmd = [sys.executable, "-c", "import sys; from mutmut.__main__ import cli; sys.exit(cli())",
           "run", "--max-children", str(jobs), *(names or SAMPLE_PATTERNS[sample])]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False, env=env)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise SystemExit(f"mutmut failed on target {target.name} (exit {proc.returncode}):\n{tail}")
    from mutmut.stats import status_by_exit_code  # mutmut's own exit code -> verdict table

    status = {name: status_by_exit_code[code] for name, code in verdicts(root).items()
              if code is not None}  # None: not selected by the sample
    equivalent = equivalent_mutants()
    killed = [n for n, s in status.items() if s == "killed"]
    timeout = [n for n, s in status.items() if s == "timeout"]
    survived = [n for n, s in status.items() if s == "survived"]
    no_tests = [n for n, s in status.items() if s == "no tests"]
    other = [f"{n}: {s}" for n, s in status.items() if s not in {"killed", "timeout", "survived", "no tests"}]
    eq = sorted(n for n in survived if n in equivalent)
    result = {"target": target.name, "sample": previous["sample"] if previous else sample,
              "seconds": round(elapsed + (previous["seconds"] if previous else 0), 1),
              "killed": len(killed) + (previous["killed"] if previous else 0),
              "timeout": len(timeout) + (previous["timeout"] if previous else 0),
              "survived": len(survived), "equivalent": len(eq), "equivalent_names": eq,
              "no_tests": sorted(no_tests), "other": sorted(other),
              "survivors": sorted(n for n in survived if n not in equivalent)}
    result["mutants"] = result["killed"] + result["timeout"] + len(survived) + len(no_tests) + len(other)
    (base / f"{target.name}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=[t.name for t in TARGETS],
                    help="targets to run (default: all)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="mutmut worker processes (default 1: shared machine)")
    ap.add_argument("--sample", action="append", default=[], metavar="TARGET=K",
                    help="test 1 mutant in K (K = 2, 5 or 10; by mutant number) for TARGET; default all")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch copies (mutmut show / results there) and <target>.json")
    ap.add_argument("--summary", action="store_true",
                    help="with --workdir: run nothing; print the summary of <workdir>/<target>.json again, "
                         "re-reading the equivalent-mutant list of docs/testing.md")
    ap.add_argument("--resume", action="store_true",
                    help="with --workdir: rerun only the survivors recorded in <workdir>/<target>.json "
                         "(after adding tests) and merge with the verdicts recorded there")
    args = ap.parse_args()
    samples: dict[str, int] = {}
    for item in args.sample:
        name, _, k = item.partition("=")
        if name not in {t.name for t in TARGETS} or not k.isdigit() or int(k) not in SAMPLE_PATTERNS:
            print(f"--sample {item}: use TARGET=K with a target name and K in 1, 2, 5, 10", file=sys.stderr)
            return 2
        samples[name] = int(k)
    if args.jobs < 1:
        print("--jobs must be >= 1", file=sys.stderr)
        return 2
    if (args.resume or args.summary) and args.workdir is None:
        print("--resume and --summary need --workdir (the directory of the earlier run)", file=sys.stderr)
        return 2
    try:
        import mutmut  # noqa: F401
    except ImportError:
        print("mutmut is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    base = args.workdir or Path(tempfile.mkdtemp(prefix="grinder-mutation-"))
    base.mkdir(parents=True, exist_ok=True)
    chosen = [t for t in TARGETS if not args.only or t.name in args.only]
    results = []
    try:
        for target in chosen:
            previous = None
            if args.summary:
                saved = json.loads((base / f"{target.name}.json").read_text(encoding="utf-8"))
                results.append(reclassify(saved))
                continue
            if args.resume:
                saved = base / f"{target.name}.json"
                if not saved.exists():
                    print(f"--resume: {saved} does not exist; run without --resume first", file=sys.stderr)
                    return 2
                previous = json.loads(saved.read_text(encoding="utf-8"))
            res = run_target(target, base, args.jobs, samples.get(target.name, 1), previous)
            results.append(res)
            print(json.dumps(res), flush=True)
    finally:
        if not args.keep and not args.resume and not args.summary and args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    killed = sum(int(r["killed"]) for r in results)
    timeout = sum(int(r["timeout"]) for r in results)
    survived = sum(int(r["survived"]) for r in results)
    equivalent = sum(int(r["equivalent"]) for r in results)
    no_tests = sum(len(r["no_tests"]) for r in results)
    real = survived - equivalent
    detected = killed + timeout
    denom = detected + real + no_tests
    summary = {
        "targets": {r["target"]: {"sample_1_in": r["sample"], "mutants": r["mutants"],
                                  "score_pct": _pct(r)} for r in results},
        "killed": killed, "timeout": timeout, "survived": survived, "equivalent_survivors": equivalent,
        "non_equivalent_survivors": real, "no_tests": no_tests,
        "score_pct": round(100.0 * detected / denom, 2) if denom else None,
        "seconds": round(sum(float(r["seconds"]) for r in results), 1),
        "jobs": args.jobs,
    }
    print(json.dumps(summary))
    return 0


def reclassify(r: dict[str, Any]) -> dict[str, Any]:
    """A saved target result with its survivors split again by the current equivalent-mutant list."""
    equivalent = equivalent_mutants()
    survived = r["survivors"] + r["equivalent_names"]
    eq = sorted(n for n in survived if n in equivalent)
    return {**r, "equivalent": len(eq), "equivalent_names": eq,
            "survivors": sorted(n for n in survived if n not in equivalent)}


def _pct(r: dict[str, Any]) -> float | None:
    detected = int(r["killed"]) + int(r["timeout"])
    denom = detected + int(r["survived"]) - int(r["equivalent"]) + len(r["no_tests"])
    return round(100.0 * detected / denom, 2) if denom else None


if __name__ == "__main__":
    raise SystemExit(main())
