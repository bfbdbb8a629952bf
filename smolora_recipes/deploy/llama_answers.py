"""Answers from a GGUF in llama.cpp (through `llama-cpp-python`), asked as its users ask it:
chat prompts through the chat template the GGUF carries, other prompts as plain completions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smolora_recipes.data.conversations import with_system_prompt


def llama_answers(
    gguf: Path,
    prompts: list[str],
    chat: bool,
    system_prompt: str | None,
    suffix: str,
    max_tokens: int,
    context: int,
    tools: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Greedy answers of the GGUF to each prompt: chat messages (led by `system_prompt`)
    formatted by the GGUF's own template, or the prompt followed by `suffix`; `context` tokens
    must hold the longest prompt and its answer."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(gguf),
        n_ctx=context,
        n_threads=os.cpu_count(),
        n_gpu_layers=-1,  # all layers on the GPU where llama.cpp was built with one
        seed=0,
        verbose=False,
    )
    greedy = {"max_tokens": max_tokens, "temperature": 0.0, "top_k": 1}
    answers = []
    try:
        for prompt in prompts:
            if chat:
                messages = with_system_prompt([{"role": "user", "content": prompt}], system_prompt)
                reply = llm.create_chat_completion(  # type: ignore[arg-type]
                    messages=messages,  # type: ignore[arg-type]
                    tools=tools or None,  # type: ignore[arg-type]
                    **greedy,
                )
                text = reply["choices"][0]["message"]["content"] or ""  # type: ignore[index]
            else:
                reply = llm.create_completion(prompt + suffix, **greedy)
                text = reply["choices"][0]["text"]  # type: ignore[index]
            answers.append(text.strip())
    finally:
        llm.close()
    return answers
