"""Mutation testing, package by package: how many deliberately broken versions of the code
each package's own tests catch.

`make mutants` runs this (not CI: it is slow). For each target below it copies the repository
into `.mutants/<target>/`, writes the `[tool.mutmut]` table of pyproject.toml there with the
target's files and tests, runs `mutmut run` (results are kept, so a re-run only checks what
changed), and prints one table: mutants, killed, survived, not covered, kill rate, the target.
Not covered counts as survived. Survivors of a target: `--survivors NAME`; one mutant's diff:
`cd .mutants/NAME && ../../.venv/bin/mutmut show MUTANT`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRATCH = REPO_ROOT / ".mutants"
COPIED = ("pyproject.toml", "smolora_recipes", "tests", "recipes", "schemas")


@dataclass(frozen=True)
class Target:
    """A group of modules, the tests that must catch their mutants, and the kill rate to reach."""

    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    required_rate: float


TARGETS = (
    Target("recipe", ("smolora_recipes/recipe/*",), ("tests/recipe",), 0.85),
    Target(
        "plan",
        tuple(
            f"smolora_recipes/plan/{name}.py"
            for name in ("build", "code_digest", "inputs", "specs", "diff", "status")
        ),
        ("tests/plan",),
        0.80,
    ),
    Target(
        "store",
        ("smolora_recipes/store/cache.py", "smolora_recipes/store/hashing.py"),
        ("tests/store",),
        0.80,
    ),
    Target(
        "data",
        tuple(f"smolora_recipes/data/{name}.py" for name in ("templates", "chunking", "readers")),
        ("tests/data",),
        0.80,
    ),
)


@dataclass(frozen=True)
class Outcome:
    """One target's counts, from mutmut's exported statistics."""

    target: Target
    total: int
    killed: int
    not_covered: int

    @property
    def survived(self) -> int:
        """Mutants no test failed on, not-covered ones excluded (they have their own column)."""
        return self.total - self.killed - self.not_covered

    @property
    def rate(self) -> float:
        """Killed over all mutants: not covered counts as survived."""
        return self.killed / self.total if self.total else 0.0


def mutmut_table(base: dict[str, object], target: Target, only: list[str]) -> str:
    """The `[tool.mutmut]` TOML table for one target: the repository's settings, with the
    target's modules (or just those matching `only`) and tests."""
    settings = dict(base)
    settings["only_mutate"] = only or list(target.modules)
    settings["pytest_add_cli_args_test_selection"] = list(target.tests)
    # JSON strings, numbers, booleans and lists of them are valid TOML values.
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "[tool.mutmut]\n" + "\n".join(lines) + "\n"


def with_mutmut_table(pyproject: str, table: str) -> str:
    """pyproject.toml's text with its `[tool.mutmut]` table replaced by `table`."""
    without = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", pyproject)
    return without.rstrip("\n") + "\n\n" + table


def prepare(target: Target, fresh: bool, only: list[str]) -> Path:
    """Copy the repository's code and tests into the target's scratch folder (results of an
    earlier run are kept unless `fresh`) and write its mutmut settings."""
    folder = SCRATCH / target.name
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "runs", "*.pyc")
    for name in COPIED:
        source, copy = REPO_ROOT / name, folder / name
        if copy.is_dir() and not copy.is_symlink():
            shutil.rmtree(copy)
        elif copy.exists() or copy.is_symlink():
            copy.unlink()
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        elif source.is_dir():
            shutil.copytree(source, copy, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(source, copy)
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    base = tomllib.loads(pyproject)["tool"]["mutmut"]
    (folder / "pyproject.toml").write_text(
        with_mutmut_table(pyproject, mutmut_table(base, target, only)), encoding="utf-8"
    )
    return folder


def mutmut(folder: Path, *args: str, quiet: bool = False) -> None:
    """Run a mutmut command in a target's scratch folder, offline and one thread per process."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    output = subprocess.DEVNULL if quiet else None
    subprocess.run(
        [sys.executable, "-m", "mutmut", *args], cwd=folder, env=env, check=True, stdout=output
    )


def outcome(folder: Path, target: Target) -> Outcome:
    """Read a finished run's counts from `mutmut export-cicd-stats`."""
    mutmut(folder, "export-cicd-stats", quiet=True)
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    return Outcome(target, stats["total"], stats["killed"], stats["no_tests"])


def table(outcomes: list[Outcome]) -> str:
    """The printed table: one row per target."""
    header = "| package | mutants | killed | survived | not covered | kill rate | required |"
    rows = [header, "|---|---|---|---|---|---|---|"]
    for result in outcomes:
        verdict = "" if result.rate >= result.target.required_rate else " (below)"
        rows.append(
            f"| {result.target.name} | {result.total} | {result.killed} | {result.survived} "
            f"| {result.not_covered} | {result.rate:.1%}{verdict} "
            f"| {result.target.required_rate:.0%} |"
        )
    return "\n".join(rows)


def main() -> int:
    """Run the chosen targets (all by default) and print the table; 1 when one is below its
    required rate."""
    names = [target.name for target in TARGETS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"any of {', '.join(names)}")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutmut workers")
    parser.add_argument(
        "--only", action="append", default=[], metavar="GLOB", help="mutate only these files"
    )
    parser.add_argument("--survivors", metavar="TARGET", choices=names, help="list survivors")
    args = parser.parse_args()
    unknown = sorted(set(args.targets) - set(names))
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)}; the targets are {', '.join(names)}")
    if args.survivors:
        mutmut(SCRATCH / args.survivors, "results")
        return 0
    chosen = [target for target in TARGETS if not args.targets or target.name in args.targets]
    outcomes = []
    for target in chosen:
        folder = prepare(target, args.fresh, args.only)
        mutmut(folder, "run", "--max-children", str(args.jobs))
        outcomes.append(outcome(folder, target))
    print(table(outcomes))
    return 0 if all(result.rate >= result.target.required_rate for result in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
