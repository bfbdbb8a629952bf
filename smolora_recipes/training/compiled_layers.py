"""`sft.compile`: training with the model's decoder layers compiled by torch.compile (inductor).

Regional compilation: each repeated decoder layer is compiled, and since the layers share their
code (their weights are the graph's inputs) they share one compiled graph, so a model compiles
one graph for training and one for evaluation, not one per layer. Row lengths vary, so the
graphs have dynamic shapes: one graph serves every length, where static shapes would compile
one per length (or per `pad_to_multiple_of` bucket). inductor's caches live under
`$SMOLORA_HOME/inductor` (unless TORCHINDUCTOR_CACHE_DIR says otherwise), so a re-run with other
hyperparameters on the same model loads its graphs instead of compiling them again.
"""

from __future__ import annotations

import os
from typing import Any

from smolora_recipes.core.paths import compiled_graphs_dir
from smolora_recipes.models.runtime import Runtime

# `auto` compiles where bench/NOTES.md ("Compiled training") measured a net gain
AUTO_DEVICES: frozenset[str] = frozenset()


def compile_applies(setting: bool | str, runtime: Runtime) -> bool:
    """Whether `sft.compile` compiles on this runtime (`auto`: where it measured a gain)."""
    return runtime.device in AUTO_DEVICES if setting == "auto" else bool(setting)


def decoder_layers(model: Any) -> list[Any]:
    """The model's repeated blocks: the longest list of same-class modules (its layers)."""
    from torch import nn

    lists = [
        list(module)
        for module in model.modules()
        if isinstance(module, nn.ModuleList)
        and len(module) > 1
        and len({type(layer) for layer in module}) == 1
    ]
    return max(lists, key=len, default=[])


def compile_decoder_layers(model: Any) -> int:
    """Compile each decoder layer in place (compiled on its first call); the number compiled."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compiled_graphs_dir()))
    layers = decoder_layers(model)
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)


def uncompile_decoder_layers(model: Any) -> None:
    """Run the layers eagerly again (the merge and sampling after training run them so)."""
    for layer in decoder_layers(model):
        layer._compiled_call_impl = None  # what nn.Module.compile set; torch has no public undo
