"""The recipe language is closed: every section forbids unknown keys and no field names code
to import (no `_component_`, `_target_` or class paths, as some trainers allow)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import REPO_ROOT

IMPORT_LIKE = {  # field names other tools use to load code by name
    *("component", "target", "class", "class_path", "module", "module_path", "callable"),
    *("factory", "import", "imports", "entry_point", "plugin", "plugins", "callback", "callbacks"),
}


def sections(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level recipe and each of its sections, by name."""
    return {"Recipe": schema, **schema["$defs"]}


def test_every_section_forbids_unknown_keys() -> None:
    schema = json.loads((REPO_ROOT / "schemas/recipe.schema.json").read_text())
    for name, section in sections(schema).items():
        assert section.get("additionalProperties") is False, name


def test_no_field_names_code_to_import() -> None:
    schema = json.loads((REPO_ROOT / "schemas/recipe.schema.json").read_text())
    for name, section in sections(schema).items():
        for field in section.get("properties", {}):
            assert field.strip("_").lower() not in IMPORT_LIKE, f"{name}.{field}"
