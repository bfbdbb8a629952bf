"""git references taken apart, fetched, pinned and refused: exact messages, fields and hints."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.recipe import git_refs
from smolora_recipes.recipe.git_refs import (
    Checkout,
    GitReference,
    fetch_checkout,
    file_revision,
    parse_git_reference,
)
from tests.git_repos import GitRepo

WHERE = Location("team.yaml", 3, 10)
FIELD = "extends"
FORM_HINT = (
    "write git+URL@REV#path/in/repo.yaml, e.g. git+https://github.com/org/recipes@v1#base.yaml "
    "(URL: https, ssh or file; REV: a commit, tag or branch)"
)
REACH_HINT = (
    "check the URL and that this machine can reach it (`git ls-remote URL` lists its branches); "
    "a private repository needs credentials git can use without asking (an SSH key or a "
    "credential helper)"
)
FILE_REV_HINT = "FILE@REV names a file as committed at REV of the git repository it lies in"
ELEVEN = [f"many/r{n:02}.yaml" for n in range(1, 12)]


def problem_of(call: Callable[[], object]) -> Problem:
    """The single problem of the RecipeError `call` raises."""
    with pytest.raises(RecipeError) as caught:
        call()
    [problem] = caught.value.problems
    return problem


def fetch(url: str, rev: str, path: str = "") -> Checkout:
    return fetch_checkout(GitReference(url, rev, path), WHERE, FIELD)


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """A repository with 13 recipe files and 13 refs (branch main, tags t01..t12), never changed."""
    repo = GitRepo(tmp_path_factory.mktemp("shelf") / "recipes")
    files = {"base.yaml": "name: base\n", "team/child.yml": "name: child\n"}
    repo.commit(files | {name: "name: many\n" for name in ELEVEN})
    for n in range(1, 13):
        repo.git("tag", f"t{n:02}")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A repository of this test's own, free to change or delete."""
    repo = GitRepo(tmp_path / "own")
    repo.commit({"base.yaml": "name: one\n"})
    return repo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "git+https://github.com/org/r@v1#base.yaml",
            ("https://github.com/org/r", "v1", "base.yaml"),
        ),
        ("git+http://host/r.git@main#/team/x.yaml/", ("http://host/r.git", "main", "team/x.yaml")),
        ("git+ssh://git@host/org/r.git@abc123#", ("ssh://git@host/org/r.git", "abc123", "")),
        ("git+git://host/r@a@b#x.yaml", ("git://host/r@a", "b", "x.yaml")),
        ("git+git@github.com:org/r.git@main", ("git@github.com:org/r.git", "main", "")),
        ("git+file:///srv/recipes@v2#a/./b.yaml", ("file:///srv/recipes", "v2", "a/b.yaml")),
        ("https://host/r@v1#c.yaml", ("https://host/r", "v1", "c.yaml")),
        ("git+https://host/r@v1#a#b.yaml", ("https://host/r", "v1", "a#b.yaml")),
    ],
)
def test_a_git_reference_is_taken_apart(text: str, expected: tuple[str, str, str]) -> None:
    assert parse_git_reference(text, WHERE, FIELD) == GitReference(*expected)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("git+https://host/r#x.yaml", "not a git reference: git+https://host/r#x.yaml", FORM_HINT),
        (
            "git+https://host/r@#x.yaml",
            "not a git reference: git+https://host/r@#x.yaml",
            FORM_HINT,
        ),
        ("git+https://h/r@-u=x#y", "not a git reference: git+https://h/r@-u=x#y", FORM_HINT),
        (
            "git+ftp://host/r@v1#x.yaml",
            "not a git reference: git+ftp://host/r@v1#x.yaml",
            FORM_HINT,
        ),
        ("git+file://nopath@v1", "not a git reference: git+file://nopath@v1", FORM_HINT),
        (
            "git+https://host/r@v1#a/../../x.yaml",
            "the path 'a/../../x.yaml' leaves the repository",
            "name a file inside it",
        ),
    ],
)
def test_a_malformed_reference_is_a_located_error(text: str, message: str, hint: str) -> None:
    problem = problem_of(lambda: parse_git_reference(text, WHERE, FIELD))
    assert problem == Problem(message, WHERE, FIELD, hint=hint)


def test_a_branch_is_fetched_into_a_mirror_and_exported_by_commit(
    shelf: GitRepo, isolated_home: Path
) -> None:
    commit = shelf.git("rev-parse", "HEAD")
    checkout = fetch(shelf.url, "main")
    assert checkout == Checkout(shelf.url, commit, isolated_home / "recipes" / commit)
    assert (checkout.root / "team" / "child.yml").read_text() == "name: child\n"
    assert not (checkout.root / ".git").exists()
    key = hashlib.sha256(shelf.url.encode("utf-8")).hexdigest()[:16]
    assert sorted(os.listdir(isolated_home / "recipes")) == [".mirrors", commit]
    assert sorted(os.listdir(isolated_home / "recipes" / ".mirrors")) == [
        f"{key}.git",
        f"{key}.lock",
    ]
    assert fetch(shelf.url, "t12").commit == commit  # a second use fetches into the same mirror
    assert fetch(shelf.url, commit[:7].upper()).root == checkout.root
    assert checkout.reference("a/b.yaml") == f"git+{shelf.url}@{commit}#a/b.yaml"


def test_an_unknown_revision_lists_the_first_twelve_branches_and_tags(shelf: GitRepo) -> None:
    problem = problem_of(lambda: fetch(shelf.url, "nope"))
    names = ", ".join(["main"] + [f"t{n:02}" for n in range(1, 12)])
    assert problem == Problem(
        f"no branch, tag or commit 'nope' in {shelf.url}",
        WHERE,
        FIELD,
        hint=f"branches and tags there: {names}",
    )


def test_without_a_field_the_errors_name_none(shelf: GitRepo) -> None:
    assert problem_of(lambda: parse_git_reference("nope", WHERE)).field == ""
    problem = problem_of(lambda: fetch_checkout(GitReference(shelf.url, "nope", ""), WHERE))
    assert (problem.message, problem.field) == (
        f"no branch, tag or commit 'nope' in {shelf.url}",
        "",
    )


def test_an_empty_repository_has_no_branches_to_list(tmp_path: Path) -> None:
    empty = GitRepo(tmp_path / "empty")
    problem = problem_of(lambda: fetch(empty.url, "main"))
    assert problem.message == f"no branch, tag or commit 'main' in {empty.url}"
    assert (problem.field, problem.hint) == (FIELD, "branches and tags there: none")


def test_an_unreachable_repository_says_gits_reason(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/missing"
    problem = problem_of(lambda: fetch(url, "main"))
    assert problem.message.startswith(f"cannot fetch {url}: ")
    assert "missing" in problem.message.removeprefix(f"cannot fetch {url}: ")
    assert (problem.location, problem.field, problem.hint) == (WHERE, FIELD, REACH_HINT)


def test_pinned_commits_work_offline_and_branches_say_how_to_pin(
    repo: GitRepo, isolated_home: Path
) -> None:
    commit = repo.git("rev-parse", "HEAD")
    assert fetch(repo.url, "main").commit == commit
    shutil.rmtree(repo.path)
    assert fetch(repo.url, commit[:10].upper()).commit == commit  # the mirror knows it
    shutil.rmtree(isolated_home / "recipes" / commit)
    exported = fetch(repo.url, commit)  # exported again from the mirror, offline
    assert fetch(repo.url, commit) == exported == Checkout(repo.url, commit, exported.root)
    assert (exported.root / "base.yaml").read_text() == "name: one\n"
    problem = problem_of(lambda: fetch(repo.url, "main"))
    assert problem.message.startswith(f"cannot fetch {repo.url}: ")
    assert (problem.location, problem.field) == (WHERE, FIELD)
    assert problem.hint == (
        f"{REACH_HINT}; when last fetched, main was commit {commit[:12]}: pin it "
        f"(@{commit}) to work offline"
    )
    unknown = problem_of(lambda: fetch(repo.url, "nope"))
    assert unknown.message.startswith(f"cannot fetch {repo.url}: ")
    assert unknown.hint == REACH_HINT


def test_a_branch_named_like_a_commit_is_fetched_again(repo: GitRepo) -> None:
    repo.git("branch", "abc1234")
    first = fetch(repo.url, "abc1234").commit
    repo.git("checkout", "-q", "abc1234")
    second = repo.commit({"base.yaml": "name: two\n"})
    assert first != second == fetch(repo.url, "abc1234").commit


@pytest.mark.parametrize("link", ["a-link.yaml", "z-link.yaml"])  # before or after base.yaml
def test_a_link_leaving_the_repository_leaves_nothing_behind(
    repo: GitRepo, isolated_home: Path, link: str
) -> None:
    os.symlink("/etc/hostname", repo.path / link)
    commit = repo.commit({})
    problem = problem_of(lambda: fetch(repo.url, "main"))
    assert problem == Problem(
        f"commit {commit[:12]} of the repository holds {link!r}, "
        "a link or path that leaves the repository",
        WHERE,
        FIELD,
        hint="a recipe from git may read only the files of its own repository",
    )
    assert os.listdir(isolated_home / "recipes") == [".mirrors"]


def test_a_failed_export_is_located_and_leaves_nothing_behind(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(
        '#!/bin/sh\nif [ "$3" = archive ]; then echo "fatal: disk full" >&2; exit 128; fi\n'
        f'exec {shutil.which("git")} "$@"\n'
    )
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    commit = repo.git("rev-parse", "HEAD")
    problem = problem_of(lambda: fetch(repo.url, "main"))
    assert problem == Problem(f"cannot export commit {commit}: disk full", WHERE, FIELD, REACH_HINT)
    assert os.listdir(isolated_home / "recipes") == [".mirrors"]


# ------------------------------------------------------------------------------- FILE@REV


@pytest.mark.parametrize("text", ["recipe.yaml", "@HEAD", "recipe.yaml@", "recipe.yaml@-n"])
def test_text_that_is_not_file_at_revision_is_none(text: str) -> None:
    assert file_revision(text) is None


def test_an_existing_file_with_an_at_sign_is_a_file(tmp_path: Path) -> None:
    existing = tmp_path / "a@b.yaml"
    existing.write_text("name: a\n")
    assert file_revision(str(existing)) is None


def test_a_file_at_a_revision_is_exported_from_its_repository(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "new" / "home"  # a first use: the home folder does not exist yet
    monkeypatch.setenv("SMOLORA_HOME", str(home))
    first = repo.commit({"sub/r.yaml": "name: old\n"})
    repo.commit({"sub/r.yaml": "name: new\n"})
    checkout, path = file_revision(f"{repo.path}/sub/r.yaml@HEAD~1") or (None, "")
    assert checkout == Checkout(repo.url, first, home / "recipes" / first)
    assert path == "sub/r.yaml" and (checkout.root / path).read_text() == "name: old\n"
    monkeypatch.chdir(repo.path / "sub")
    assert file_revision("r.yaml@HEAD~1") == (checkout, "sub/r.yaml")
    assert file_revision("gone/deeper/r.yaml@HEAD~1") == (checkout, "sub/gone/deeper/r.yaml")


def test_file_at_revision_errors_name_the_file_and_repository(
    repo: GitRepo, tmp_path: Path
) -> None:
    outside = f"{tmp_path}/plain/r.yaml@HEAD"
    problem = problem_of(lambda: file_revision(outside))
    assert problem == Problem(
        f"{tmp_path}/plain/r.yaml is not in a git repository: not a git repository "
        "(or any of the parent directories): .git",
        Location(outside, literal=True),
        "",
        hint=FILE_REV_HINT,
    )
    unknown = f"{repo.path}/base.yaml@nope"
    problem = problem_of(lambda: file_revision(unknown))
    assert problem == Problem(
        f"no branch, tag or commit 'nope' in the repository at {repo.path}",
        Location(unknown, literal=True),
        "",
        hint=FILE_REV_HINT,
    )


# ------------------------------------------------------------------------ how git is run

FAKE_GIT = """#!/bin/sh
env > "$FAKE_GIT_LOG.env"
echo "$@" > "$FAKE_GIT_LOG.args"
printf '%b' "$FAKE_GIT_STDERR" >&2
[ -n "$FAKE_GIT_SLEEP" ] && exec sleep "$FAKE_GIT_SLEEP"
exit 1
"""
NOWHERE = "https://example.invalid/r"


@pytest.fixture
def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` on PATH that records its environment and arguments, then fails as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(FAKE_GIT)
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GIT_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("FAKE_GIT_STDERR", "")
    monkeypatch.delenv("FAKE_GIT_SLEEP", raising=False)
    return tmp_path / "log"


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        ("warning: w\nfatal: not found\nerror: later\n", f"cannot fetch {NOWHERE}: not found"),
        ("error: a: b\n", f"cannot fetch {NOWHERE}: a: b"),
        (
            "  \n hint: one\n hint: two\n  remote: gone away  \n\n",
            f"cannot fetch {NOWHERE}: gone away",
        ),
        ("plain words\n", f"cannot fetch {NOWHERE}"),
        ("", f"cannot fetch {NOWHERE}"),
    ],
)
def test_a_failing_git_is_quoted_by_its_first_fatal_line(
    fake_git: Path, monkeypatch: pytest.MonkeyPatch, stderr: str, message: str
) -> None:
    monkeypatch.setenv("FAKE_GIT_STDERR", stderr)
    problem = problem_of(lambda: fetch(NOWHERE, "main"))
    assert problem == Problem(message, WHERE, FIELD, hint=REACH_HINT)


def test_git_runs_without_prompts_in_the_c_locale(
    fake_git: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    problem_of(lambda: fetch(NOWHERE, "main"))
    env = dict(line.split("=", 1) for line in fake_git.with_suffix(".env").read_text().splitlines())
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GCM_INTERACTIVE"] == "never"
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes -o ConnectTimeout=15"
    assert env["LC_ALL"] == "C" and env["FAKE_GIT_LOG"] == str(fake_git)
    assert (
        fake_git.with_suffix(".args")
        .read_text()
        .startswith(f"clone --mirror --quiet -- {NOWHERE} ")
    )
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i my-key")
    problem_of(lambda: fetch(NOWHERE, "main"))
    assert "GIT_SSH_COMMAND=ssh -i my-key\n" in fake_git.with_suffix(".env").read_text()


def test_a_silent_git_is_stopped_at_the_time_limit(
    fake_git: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_GIT_SLEEP", "5")
    monkeypatch.setattr(git_refs, "GIT_TIMEOUT_S", 0.2)
    problem = problem_of(lambda: fetch(NOWHERE, "main"))
    assert problem == Problem(
        "git clone gave no answer within 0.2 s", WHERE, FIELD, hint=REACH_HINT
    )


def hang_at(monkeypatch: pytest.MonkeyPatch, argument: str) -> None:
    """Make the git command with `argument` among its arguments run past the time limit."""
    real_run = subprocess.run

    def run(args: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        if argument in args:
            raise subprocess.TimeoutExpired(args, options["timeout"])
        return real_run(args, **options)

    monkeypatch.setattr(subprocess, "run", run)


@pytest.mark.parametrize(
    ("argument", "rev", "fetched_before", "command"),
    [
        ("--verify", "main", False, "rev-parse"),  # the new mirror: which commit is main
        ("for-each-ref", "nope", False, "for-each-ref"),  # listing branches for the hint
        ("--verify", "main", True, "rev-parse"),  # the old mirror: what main was last time
        ("fetch", "main", True, "fetch"),
        ("archive", "main", False, "archive"),
    ],
)
def test_a_hanging_git_at_any_step_of_a_fetch_is_located(
    shelf: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
    argument: str,
    rev: str,
    fetched_before: bool,
    command: str,
) -> None:
    if fetched_before:
        fetch(shelf.url, rev)
    hang_at(monkeypatch, argument)
    problem = problem_of(lambda: fetch(shelf.url, rev))
    expected = f"git {command} gave no answer within 120 s"
    assert problem == Problem(expected, WHERE, FIELD, hint=REACH_HINT)


@pytest.mark.parametrize("argument", ["--show-prefix", "--show-toplevel", "--verify", "archive"])
def test_a_hanging_git_at_any_step_of_file_at_revision_is_located(
    shelf: GitRepo, monkeypatch: pytest.MonkeyPatch, argument: str
) -> None:
    hang_at(monkeypatch, argument)
    text = f"{shelf.path}/base.yaml@HEAD"
    problem = problem_of(lambda: file_revision(text))
    command = "archive" if argument == "archive" else "rev-parse"
    assert problem == Problem(
        f"git {command} gave no answer within 120 s",
        Location(text, literal=True),
        "",
        hint=REACH_HINT,
    )


def test_without_git_the_error_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    problem = problem_of(lambda: fetch(NOWHERE, "main"))
    assert problem == Problem(
        "the `git` command is not installed, and git references need it",
        WHERE,
        FIELD,
        hint="install git (e.g. `apt install git`), or copy the recipe and its data locally",
    )
