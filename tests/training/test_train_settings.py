"""Training settings the benchmarks chose: attention targets, batching, plain loss, merge."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from smolora_recipes.core.errors import UserInputError
from smolora_recipes.models.runtime import Runtime, materialize_weights
from smolora_recipes.recipe.training_sections import LoraSection, SftSection
from smolora_recipes.training.config import lora_config, resolve_targets, sft_config
from smolora_recipes.training.trainer import plain_loss_trainer
from smolora_recipes.training.varlen_attention import use_varlen_attention

CPU = Runtime("cpu", "float32", None)


def tiny_model(folder: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)


def test_attention_targets_are_the_attention_linears_only(tiny_model_dir: Path) -> None:
    model = tiny_model(tiny_model_dir)
    targets = resolve_targets("attention", model)
    assert targets == [
        "self_attn.k_proj",
        "self_attn.o_proj",
        "self_attn.q_proj",
        "self_attn.v_proj",
    ]
    from peft import get_peft_model

    adapted = get_peft_model(model, lora_config(LoraSection(), model))
    names = [name for name, _ in adapted.named_modules() if name.endswith("lora_A")]
    assert names and all(".self_attn." in name for name in names)
    assert len(names) == 4 * model.config.num_hidden_layers


def test_attention_targets_cover_gpt2_style_attention_but_not_its_mlp() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    assert resolve_targets("attention", model) == ["attn.c_attn", "attn.c_proj"]


def test_a_model_without_attention_modules_is_a_user_error() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with pytest.raises(UserInputError, match="attention"):
        resolve_targets("attention", model)
    assert resolve_targets(["0"], model) == ["0"]  # explicit names pass through untouched


@pytest.mark.parametrize(
    ("batching", "padding_free", "sampling"),
    [
        ("padding_free", True, "random"),
        ("padded", False, "random"),
        ("length_grouped", False, "group_by_length"),
    ],
)
def test_batching_maps_onto_sft_config(
    tmp_path: Path, batching: str, padding_free: bool, sampling: str
) -> None:
    config = sft_config(SftSection(batching=batching, batch_size=4), CPU, tmp_path)
    assert config.padding_free is padding_free
    one_per_step = sft_config(SftSection(batching=batching, batch_size=1), CPU, tmp_path)
    assert not one_per_step.padding_free  # nothing to concatenate: a plain batch of one
    assert config.train_sampling_strategy == sampling
    assert not config.activation_checkpointing
    assert sft_config(
        SftSection(activation_checkpointing=True), CPU, tmp_path
    ).activation_checkpointing


def test_defaults_are_the_benchmarked_ones() -> None:
    sft, lora = SftSection(), LoraSection()
    assert (sft.batch_size, sft.grad_accum, sft.batching) == (1, 8, "padding_free")
    assert (lora.dropout, lora.target_modules) == (0.0, "attention")


def test_padding_free_loss_equals_padded_loss(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Concatenated examples attend only within themselves: the loss matches padded batches."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = Dataset.from_dict(  # a one-token document too: per-document attention shortcuts it
        {"input_ids": [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [20], [15, 16, 17, 18, 19]]}
    )
    losses = {}
    for batching in ("padded", "padding_free", "padding_free+varlen", "padding_free+varlen+pad"):
        model = tiny_model(tiny_model_dir)
        if "+varlen" in batching:
            use_varlen_attention(model)
            assert model.config._attn_implementation == "smolora_varlen_sdpa"
        sft = SftSection(
            batching=batching.split("+")[0],
            batch_size=4,
            pad_to_multiple_of=32 if batching.endswith("+pad") else None,  # 16 tokens -> 32
        )
        trainer = plain_loss_trainer()(
            model=model,
            args=sft_config(sft, CPU, tmp_path / batching),
            train_dataset=rows,
            processing_class=tokenizer,
        )
        batch = next(iter(trainer.get_train_dataloader()))
        assert ("attention_mask" in batch) is (batching == "padded")
        assert ("cu_seq_lens_q" in batch) is (batching != "padded")
        with torch.no_grad():
            losses[batching] = float(trainer.compute_loss(trainer.model, batch))
    assert batch["input_ids"].shape[1] == 32
    for batching in ("padding_free", "padding_free+varlen", "padding_free+varlen+pad"):
        assert losses[batching] == pytest.approx(losses["padded"], rel=1e-5), batching


def test_per_document_attention_equals_masked_attention_on_the_whole_row() -> None:
    """Every position's output, one-token documents and padding included, matches SDPA over
    the row with a block-diagonal causal mask (grouped key/value heads, as in GQA)."""
    from smolora_recipes.training.varlen_attention import varlen_sdpa_forward

    torch.manual_seed(0)
    lengths = [5, 1, 3, 1, 1, 1, 4]  # a one-token document, then three padding tokens
    total, heads, kv_heads, dim = sum(lengths), 4, 2, 8
    query = torch.randn(1, heads, total, dim)
    key, value = torch.randn(1, kv_heads, total, dim), torch.randn(1, kv_heads, total, dim)
    bounds = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    document = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    causal = torch.ones(total, total, dtype=torch.bool).tril()
    mask = causal & (document[:, None] == document[None, :])
    expected = torch.nn.functional.scaled_dot_product_attention(
        query,
        key.repeat_interleave(2, dim=1),
        value.repeat_interleave(2, dim=1),
        attn_mask=mask,
    ).transpose(1, 2)
    module = torch.nn.Module()
    module.is_causal, module.num_key_value_groups = True, heads // kv_heads
    output, _ = varlen_sdpa_forward(
        module, query, key, value, None, cu_seq_lens_q=bounds, dropout=0.0, scaling=dim**-0.5
    )
    assert output.shape == expected.shape
    assert torch.allclose(output, expected, atol=1e-6)


def test_materialized_weights_are_private_copies_and_stay_tied(tiny_model_dir: Path) -> None:
    model = tiny_model(tiny_model_dir)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    pointers = {name: p.data_ptr() for name, p in model.named_parameters()}
    materialize_weights(model)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name])
        assert parameter.data_ptr() != pointers[name]
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_liger_kernels_run_on_cuda_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from smolora_recipes.training.config import liger_applies

    installed = {"liger_kernel": True}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if installed.get(name) else None
    )
    assert liger_applies(Runtime("cuda", "bfloat16", None))
    assert not liger_applies(CPU)
    installed.clear()
    assert not liger_applies(Runtime("cuda", "bfloat16", None))
