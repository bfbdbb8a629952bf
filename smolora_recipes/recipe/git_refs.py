"""Recipes in git repositories: `git+URL@REV#path/in/repo.yaml`, and `FILE@REV` of a local file.

Each repository is mirrored once under `$SMOLORA_HOME/recipes/.mirrors/`; each commit used is
exported (its files, no history) to `$SMOLORA_HOME/recipes/<commit>/` and reused from there,
offline. A branch or tag is fetched and resolved again on every use, so a run records the
commit it really used. Git runs without prompts and with a time limit, so a bad URL fails fast.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.core.file_lock import held_lock
from smolora_recipes.core.paths import fetched_recipes_dir
from smolora_recipes.core.shared_paths import SHORT_COMMIT

GIT_TIMEOUT_S = 120  # per git command; prompts are off, so only a slow network waits this long
_FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_MAYBE_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")
_URL = re.compile(  # scheme://host/path, file:///path, or ssh's user@host:path
    r"^(?:(?:https?|ssh|git)://[^/\s]+/\S+|file://\S*/\S+|[\w.-]+@[\w.-]+:\S+)$"
)
_FORM_HINT = (
    "write git+URL@REV#path/in/repo.yaml, e.g. git+https://github.com/org/recipes@v1#base.yaml "
    "(URL: https, ssh or file; REV: a commit, tag or branch)"
)
_REACH_HINT = (
    "check the URL and that this machine can reach it (`git ls-remote URL` lists its branches); "
    "a private repository needs credentials git can use without asking (an SSH key or a "
    "credential helper)"
)


@dataclass(frozen=True)
class GitReference:
    """`git+URL@REV#path`, taken apart."""

    url: str
    rev: str
    path: str  # inside the repository, posix; "" names the whole repository


@dataclass(frozen=True)
class Checkout:
    """The files of one commit of a repository, exported under `$SMOLORA_HOME/recipes/`."""

    url: str
    commit: str
    root: Path

    def reference(self, path: str) -> str:
        """The pinned reference to a file of this checkout: `git+URL@COMMIT#path`."""
        return f"git+{self.url}@{self.commit}#{path}"


def _error(message: str, where: Location, field: str, hint: str) -> RecipeError:
    return RecipeError(Problem(message, where, field, hint=hint))


def parse_git_reference(text: str, where: Location, field: str = "") -> GitReference:
    """Take `git+URL@REV#path` apart; a located error when it is not of that form."""
    body, _, path = text.removeprefix("git+").partition("#")
    url, _, rev = body.rpartition("@")
    if not _URL.match(url) or not rev or rev.startswith("-"):
        raise _error(f"not a git reference: {text}", where, field, _FORM_HINT)
    inside = PurePosixPath(path.strip("/"))
    if ".." in inside.parts:
        raise _error(
            f"the path {path!r} leaves the repository", where, field, "name a file inside it"
        )
    return GitReference(url, rev, "" if inside == PurePosixPath() else inside.as_posix())


def fetch_checkout(ref: GitReference, where: Location, field: str = "") -> Checkout:
    """The files of the commit `ref.rev` names, fetched if needed (a known commit: offline)."""
    exported = fetched_recipes_dir() / ref.rev
    if _FULL_COMMIT.match(ref.rev) and exported.is_dir():
        return Checkout(ref.url, ref.rev, exported)
    mirror = _mirror(ref, where, field)
    commit = _commit_of(mirror, ref.rev, where, field)
    if commit is None:
        refs = ["-C", str(mirror), "for-each-ref", "--count=12", "--format=%(refname:short)"]
        names = _probe(refs, where, field)
        raise _error(
            f"no branch, tag or commit {ref.rev!r} in {ref.url}",
            where,
            field,
            f"branches and tags there: {', '.join((names or '').split()) or 'none'}",
        )
    return Checkout(ref.url, commit, _export(mirror, commit, where, field))


def file_revision(text: str) -> tuple[Checkout, str] | None:
    """`recipe.yaml@HEAD~1`: the commit and the file's path in it; None when not of that form."""
    path, at, rev = text.rpartition("@")
    if not at or not path or not rev or os.path.exists(text) or rev.startswith("-"):
        return None
    where = Location(text, literal=True)
    folder = Path(os.path.abspath(path)).parent
    while not folder.is_dir():
        folder = folder.parent
    hint = "FILE@REV names a file as committed at REV of the git repository it lies in"
    failure = f"{path} is not in a git repository"
    prefix = _git(["-C", str(folder), "rev-parse", "--show-prefix"], where, failure, hint)
    top = _git(["-C", str(folder), "rev-parse", "--show-toplevel"], where, failure, hint)
    commit = _commit_of(Path(top), rev, where, "")
    if commit is None:
        raise _error(
            f"no branch, tag or commit {rev!r} in the repository at {top}", where, "", hint
        )
    inside = PurePosixPath(prefix) / Path(os.path.relpath(os.path.abspath(path), folder)).as_posix()
    return Checkout(f"file://{top}", commit, _export(Path(top), commit, where, "")), str(inside)


def _mirror(ref: GitReference, where: Location, field: str) -> Path:
    """A bare mirror of the repository holding `ref.rev`: cloned, or fetched when needed."""
    key = hashlib.sha256(ref.url.encode("utf-8")).hexdigest()[:16]
    mirror = fetched_recipes_dir() / ".mirrors" / f"{key}.git"
    with held_lock(mirror.with_name(f"{key}.lock")):
        if not mirror.is_dir():
            staging = mirror.with_name(f"{key}.tmp-{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            clone = ["clone", "--mirror", "--quiet", "--", ref.url, str(staging)]
            _git(clone, where, f"cannot fetch {ref.url}", _REACH_HINT, field)
            staging.rename(mirror)
        else:
            known = _commit_of(mirror, ref.rev, where, field)
            is_commit = _MAYBE_COMMIT.match(ref.rev) and known and known.startswith(ref.rev.lower())
            # a tag already fetched is not asked for again (tags do not move; a lock file
            # catches one that did), so a tag works offline as a commit does
            if not (is_commit or _known_tag(mirror, ref.rev, where, field)):
                fetch = ["-C", str(mirror), "fetch", "--quiet", "--prune", "origin"]
                hint = _offline_hint(ref.rev, known)
                _git(fetch, where, f"cannot fetch {ref.url}", hint, field)
    return mirror


def _known_tag(repository: Path, rev: str, where: Location, field: str) -> bool:
    """Whether `rev` is a tag `repository` already holds."""
    show = ["-C", str(repository), "show-ref", "--verify", "--quiet", f"refs/tags/{rev}"]
    return _probe(show, where, field) is not None


def _commit_of(repository: Path, rev: str, where: Location, field: str) -> str | None:
    """The commit `rev` names in `repository`, or None."""
    show = ["-C", str(repository), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]
    return _probe(show, where, field)


def _offline_hint(rev: str, last: str | None) -> str:
    """Branches are fetched on every use; say which commit a branch was when last fetched."""
    if last is None:
        return _REACH_HINT
    return (
        f"{_REACH_HINT}; when last fetched, {rev} was commit {last[:SHORT_COMMIT]}: pin it "
        f"(@{last}) to work offline"
    )


def _export(repository: Path, commit: str, where: Location, field: str) -> Path:
    """`$SMOLORA_HOME/recipes/<commit>/`: the commit's files, written whole or not at all."""
    target = fetched_recipes_dir() / commit
    if target.is_dir():
        return target
    staging = target.with_name(f".{commit}.tmp-{os.getpid()}")
    archive = target.with_name(f".{commit}.tar-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    export = ["-C", str(repository), "archive", "--format=tar", "-o", str(archive), commit]
    try:
        _git(export, where, f"cannot export commit {commit}", _REACH_HINT, field)
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")  # refuses links and paths leaving the folder
    except tarfile.FilterError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise _error(
            f"commit {commit[:SHORT_COMMIT]} of the repository holds {error.tarinfo.name!r}, "
            "a link or path that leaves the repository",
            where,
            field,
            "a recipe from git may read only the files of its own repository",
        ) from None
    finally:
        archive.unlink(missing_ok=True)
    try:
        staging.rename(target)
    except OSError:  # another process exported the same commit first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _run(args: list[str], where: Location, field: str) -> subprocess.CompletedProcess[str]:
    """Run git with prompts off and a time limit."""
    git = shutil.which("git")
    if git is None:
        raise _error(
            "the `git` command is not installed, and git references need it",
            where,
            field,
            "install git (e.g. `apt install git`), or copy the recipe and its data locally",
        )
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        "GIT_SSH_COMMAND": os.environ.get(
            "GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15"
        ),
        "LC_ALL": "C",
    }
    try:
        return subprocess.run(
            [git, *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        command = args[2] if args[0] == "-C" else args[0]
        raise _error(
            f"git {command} gave no answer within {GIT_TIMEOUT_S} s",
            where,
            field,
            _REACH_HINT,
        ) from None


def _git(args: list[str], where: Location, failure: str, hint: str, field: str = "") -> str:
    """git's output, or a located error saying `failure` with git's own last word."""
    done = _run(args, where, field)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines[-1:]
        detail = fatal[0].split(":", 1)[1].strip() if fatal and ":" in fatal[0] else ""
        raise _error(f"{failure}: {detail}" if detail else failure, where, field, hint)
    return done.stdout.strip()


def _probe(args: list[str], where: Location, field: str) -> str | None:
    """git's output, or None when git says no (where a failure has its own message)."""
    done = _run(args, where, field)
    return done.stdout.strip() if done.returncode == 0 else None
