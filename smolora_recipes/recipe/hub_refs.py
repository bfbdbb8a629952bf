"""Hugging Face hub repositories pinned to commits: a hub model id or `hf` dataset name, with
its revision (a branch, tag or commit; `main` when empty), resolves to the commit it names now.

That commit, not the name, is what fingerprints and lock files hold, so a repository whose
`main` moved is a changed input. Offline (HF_HUB_OFFLINE) the commit is the one the local
Hugging Face cache recorded for that revision (`refs/<revision>`), read in microseconds; a
revision the cache never saw is an error at once, not a 50-second retry loop. Online the hub
is asked (briefly), and the cache answers if the hub cannot.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

Kind = Literal["model", "dataset"]
COMMIT = re.compile(r"^[0-9a-f]{40}$")
LOOKUP_SECONDS = 10.0  # how long `plan` waits for the hub before falling back to the cache


class HubUnresolved(ValueError):
    """A hub revision that cannot be turned into a commit here; the message says why."""


def names_repository(name: str) -> bool:
    """Whether a dataset name is a hub repository (`org/name`), not one of the datasets
    library's builders (`json`, `csv`, with `data_files`), which have no commit."""
    return "/" in name


def hub_commit(repo_id: str, revision: str | None, kind: Kind) -> str:
    """The commit `revision` of hub repository `repo_id` names (see the module docstring)."""
    from huggingface_hub import is_offline_mode

    wanted = revision or "main"
    if COMMIT.match(wanted):
        return wanted
    cached = cached_commit(repo_id, wanted, kind)
    if is_offline_mode():
        if cached is None:
            raise HubUnresolved(
                f"{kind} {repo_id!r} ({wanted}) is not in the local Hugging Face cache, and "
                "HF_HUB_OFFLINE forbids asking the hub"
            )
        return cached
    try:
        return _hub_answer(repo_id, wanted, kind)
    except Exception as error:  # network and hub errors vary by version
        if cached is not None:
            return cached
        raise HubUnresolved(
            f"cannot resolve {kind} {repo_id!r} ({wanted}) on the hub: {type(error).__name__}: "
            f"{error}"
        ) from None


def cached_commit(repo_id: str, revision: str, kind: Kind) -> str | None:
    """The commit the local cache recorded for `revision`, or None."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"{kind}s--{repo_id.replace('/', '--')}"
    try:
        commit = (folder / "refs" / revision).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if COMMIT.match(commit) else None


def _hub_answer(repo_id: str, revision: str, kind: Kind) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    lookup = api.model_info if kind == "model" else api.dataset_info
    info = lookup(repo_id, revision=revision, timeout=LOOKUP_SECONDS)
    if not info.sha:
        raise HubUnresolved(f"the hub gave no commit for {kind} {repo_id!r} ({revision})")
    return info.sha


def hub_label(repo_id: str, revision: str | None, kind: Kind) -> str:
    """`hf:org/name@main` (a model) or `hf-dataset:org/name@main`, for plans and lock files."""
    prefix = "hf" if kind == "model" else "hf-dataset"
    return f"{prefix}:{repo_id}@{revision or 'main'}"


HUB_HINT = (
    "download it once where the hub is reachable (huggingface-cli download NAME, with "
    "--repo-type dataset for a dataset), or pin `revision` to a commit the cache holds"
)
