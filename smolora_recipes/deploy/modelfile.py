"""An Ollama Modelfile whose TEMPLATE and stop tokens come from the run's chat template.

A Jinja chat template cannot be translated to Go's template language in general, so its
one-turn shape is read off renderings with marker strings: what comes before the system
message, between it and the user message, after the user message (the generation prompt),
and after an assistant answer (where generation must stop). The shape is then checked against
the real template on every sample prompt (`render`), so a template that does not fit it
(one that looks at the content, or numbers turns) fails the export instead of shipping a
Modelfile that garbles prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from smolora_recipes.core.errors import SmoloraError
from smolora_recipes.data.chat_tokens import render_chat

SYSTEM, USER, ANSWER = "\ue000system\ue000", "\ue000user\ue000", "\ue000answer\ue000"


class TemplateShapeError(SmoloraError):
    """The chat template has no single-turn shape an Ollama TEMPLATE can express."""


@dataclass(frozen=True)
class PromptShape:
    """The literal text around each part of a one-turn conversation."""

    before_system: str | None  # None: the template has no system message
    system_to_user: str
    before_user: str  # when there is no system message (may hold the template's default one)
    after_user: str  # through the generation prompt
    after_answer: str

    def render(self, prompt: str, system: str | None) -> str:
        """The prompt as Ollama would build it from the Modelfile's TEMPLATE."""
        if system and self.before_system is not None:
            return self.before_system + system + self.system_to_user + prompt + self.after_user
        return self.before_user + prompt + self.after_user

    def go_template(self) -> str:
        """The shape in Ollama's (Go) template language."""
        system = ""
        if self.before_system is not None:
            system = (
                f"{{{{ if .System }}}}{self.before_system}{{{{ .System }}}}"
                f"{self.system_to_user}{{{{ else }}}}"
            )
        close = "{{ end }}" if system else ""
        return (
            f"{system}{self.before_user}{close}{{{{ .Prompt }}}}{self.after_user}"
            f"{{{{ .Response }}}}{self.after_answer}"
        )


def chat_shape(tokenizer: Any) -> PromptShape:
    """The one-turn shape of the tokenizer's chat template (the run's template)."""
    before_user, after_user = _split(_render(tokenizer, [("user", USER)], True), USER)
    _, after_answer = _split(
        _render(tokenizer, [("user", USER), ("assistant", ANSWER)], False), ANSWER
    )
    before_system, system_to_user = None, ""
    try:
        with_system = _render(tokenizer, [("system", SYSTEM), ("user", USER)], True)
    except TemplateError:  # a template that refuses system messages (raise_exception)
        with_system = ""
    if SYSTEM in with_system:
        before_system, system_to_user, tail = _split(with_system, SYSTEM, USER)
        if tail != after_user:
            raise TemplateShapeError(
                "the chat template ends a user turn differently with and without a system "
                "message, which an Ollama TEMPLATE cannot express"
            )
    return PromptShape(before_system, system_to_user, before_user, after_user, after_answer)


def plain_shape(separator: str) -> PromptShape:
    """The shape of a text or completion run: the prompt as written, then the separator."""
    return PromptShape(None, "", "", separator, "")


def modelfile_text(gguf_name: str, shape: PromptShape, stops: list[str], system: str | None) -> str:
    """The Modelfile: FROM the GGUF beside it, TEMPLATE, stop PARAMETERs, SYSTEM."""
    template = shape.go_template()
    for text in (template, system or ""):
        if '"""' in text:
            raise TemplateShapeError(
                'the template or system prompt holds """, which ends a Modelfile string'
            )
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    lines += [f"PARAMETER stop {_quoted(stop)}" for stop in stops]
    if system:
        lines.append(f'SYSTEM """{system}"""')
    return "\n".join(lines) + "\n"


def stop_strings(shape: PromptShape, tokenizer: Any) -> list[str]:
    """Where generation ends: the text that closes an answer, and the end-of-sequence token."""
    candidates = [shape.after_answer.strip(), tokenizer.eos_token or ""]
    return [
        text for index, text in enumerate(candidates) if text and text not in candidates[:index]
    ]


def _render(tokenizer: Any, turns: list[tuple[str, str]], generation: bool) -> str:
    messages = [{"role": role, "content": content} for role, content in turns]
    return render_chat(tokenizer, messages, generation=generation, tokenize=False)


def _split(text: str, *markers: str) -> list[str]:
    """`text` cut at each marker, which must appear exactly once, in order."""
    pieces = []
    for marker in markers:
        if text.count(marker) != 1:
            raise TemplateShapeError(
                f"the chat template writes a {marker.strip(chr(0xE000))} message "
                f"{text.count(marker)} times; an Ollama TEMPLATE writes it once"
            )
        head, text = text.split(marker)
        pieces.append(head)
    if "{{" in "".join(pieces) + text:
        raise TemplateShapeError("the chat template writes `{{`, which Ollama would read as code")
    return [*pieces, text]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
