"""Local git repositories for tests: write files, commit, and name them by `file://` URL."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

_IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
_QUIET = ["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


class GitRepo:
    """A git repository in a folder, on branch `main`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q")

    @property
    def url(self) -> str:
        """The `file://` URL git references use."""
        return f"file://{self.path}"

    def git(self, *args: str) -> str:
        """Run git in the repository; its output."""
        done = subprocess.run(
            ["git", *_IDENTITY, *_QUIET, *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        """Write dedented files into the working tree."""
        for name, text in files.items():
            path = self.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write files, commit everything; the new commit's id."""
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")
