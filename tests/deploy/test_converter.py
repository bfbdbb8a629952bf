"""Finding llama.cpp's converter: a configured checkout, or the files kept from the installed
llama-cpp-python's source distribution (and only those files)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from smolora_recipes.deploy import converter
from smolora_recipes.deploy.converter import ConverterUnavailable, converter_script


def fake_sdist(path: Path) -> Path:
    """A source distribution shaped like llama-cpp-python's, with files the converter needs
    and files it does not."""
    members = {
        "llama_cpp_python-9.9.9/vendor/llama.cpp/convert_hf_to_gguf.py": "print('convert')",
        "llama_cpp_python-9.9.9/vendor/llama.cpp/conversion/__init__.py": "",
        "llama_cpp_python-9.9.9/vendor/llama.cpp/gguf-py/gguf/__init__.py": "",
        "llama_cpp_python-9.9.9/vendor/llama.cpp/LICENSE": "MIT",
        "llama_cpp_python-9.9.9/vendor/llama.cpp/ggml/src/ggml.c": "int main;",
        "llama_cpp_python-9.9.9/llama_cpp/llama.py": "",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_configured_llama_cpp_checkout_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "convert_hf_to_gguf.py").write_text("")
    monkeypatch.setenv("SMOLORA_LLAMA_CPP", str(tmp_path))
    assert converter_script() == tmp_path / "convert_hf_to_gguf.py"
    monkeypatch.setenv("SMOLORA_LLAMA_CPP", str(tmp_path / "elsewhere"))
    with pytest.raises(ConverterUnavailable, match=r"holds no convert_hf_to_gguf\.py"):
        converter_script()


def test_only_the_converter_files_are_kept_from_the_source_distribution(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[str] = []

    def download(command: list[str], **_: object) -> object:
        downloads.append(command[-1])
        fake_sdist(Path(command[command.index("--dest") + 1]) / "llama_cpp_python-9.9.9.tar.gz")
        return type("Finished", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.delenv("SMOLORA_LLAMA_CPP", raising=False)
    monkeypatch.setattr(converter, "runtime_version", lambda: "9.9.9")
    monkeypatch.setattr(converter.subprocess, "run", download)
    script = converter_script()
    folder = isolated_home / "tools" / "llama.cpp-9.9.9"
    assert script == folder / "convert_hf_to_gguf.py"
    kept = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert kept == [
        "LICENSE",
        "conversion/__init__.py",
        "convert_hf_to_gguf.py",
        "gguf-py/gguf/__init__.py",
    ]
    assert converter_script() == script and downloads == ["llama-cpp-python==9.9.9"]
    assert sorted(path.name for path in folder.parent.iterdir()) == [
        folder.name,
        "llama.cpp-9.9.9.lock",
    ]


def test_without_pypi_the_error_says_how_to_get_the_converter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(ConverterUnavailable) as caught:
        converter.fetch_converter("0.3.36", tmp_path / "llama.cpp-0.3.36")
    assert "SMOLORA_LLAMA_CPP" in str(caught.value)
    assert not (tmp_path / "llama.cpp-0.3.36").exists()
