"""The chunked causal LM loss: the model's own loss value and gradients, without the logits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from smolora_recipes.models.runtime import Runtime
from smolora_recipes.recipe.training_sections import LoraSection, SftSection
from smolora_recipes.training import fused_loss
from smolora_recipes.training.config import lora_config, sft_config
from smolora_recipes.training.fused_loss import causal_lm_loss, fused_loss_applies
from smolora_recipes.training.trainer import plain_loss_trainer

Measured = tuple[float, list[Any]]  # a loss and the gradients of the trainable parameters


def lora_model(folder: Path, **lora: Any) -> Any:
    """The tiny Llama with a LoRA adapter whose B matrices are random (so every gradient flows)."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    adapted = get_peft_model(model, lora_config(LoraSection(**lora), model))
    torch.manual_seed(1)
    for name, parameter in adapted.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(std=0.1)
    return adapted


def batch(vocab: int) -> dict[str, Any]:
    """Two rows of token ids; some positions are not trained on (label -100)."""
    torch.manual_seed(0)
    input_ids = torch.randint(0, vocab, (2, 24))
    labels = input_ids.clone()
    labels[0, :5] = -100  # a prompt
    labels[1, 20:] = -100  # padding
    return {"input_ids": input_ids, "labels": labels}


def loss_and_grads(model: Any, compute: Any) -> Measured:
    model.zero_grad()
    loss = compute()
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    return float(loss.detach()), grads


def assert_close(
    fused: tuple[float, list[Any]], plain: tuple[float, list[Any]], rel: float
) -> None:
    assert fused[0] == pytest.approx(plain[0], rel=rel)
    for mine, theirs in zip(fused[1], plain[1], strict=True):
        assert float((mine - theirs).norm()) <= rel * float(theirs.norm()) + 1e-12


@pytest.mark.parametrize("num_items", [None, 57])
def test_loss_and_gradients_equal_the_models_own(tiny_model_dir: Path, num_items: Any) -> None:
    model = lora_model(tiny_model_dir)
    inputs = batch(model.config.vocab_size)
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    plain = loss_and_grads(model, lambda: model(**inputs, **extra).loss)
    fused = loss_and_grads(
        model, lambda: causal_lm_loss(model, inputs, extra.get("num_items_in_batch"))
    )
    assert_close(fused, plain, rel=1e-5)
    assert any(float(grad.abs().max()) > 0 for grad in plain[1])


def test_shift_labels_are_used_as_given(tiny_model_dir: Path) -> None:
    model = lora_model(tiny_model_dir)
    inputs = batch(model.config.vocab_size)
    shifted = torch.nn.functional.pad(inputs["labels"], (0, 1), value=-100)[..., 1:]
    given = {"input_ids": inputs["input_ids"], "shift_labels": shifted}
    with torch.no_grad():
        assert float(causal_lm_loss(model, given)) == pytest.approx(
            float(causal_lm_loss(model, inputs)), rel=1e-6
        )


def test_small_chunks_give_the_same_loss(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = lora_model(tiny_model_dir)
    inputs = batch(model.config.vocab_size)
    whole = loss_and_grads(model, lambda: causal_lm_loss(model, inputs))
    monkeypatch.setattr(fused_loss, "CHUNK_BYTES", 4 * model.config.vocab_size * 5)  # 5 rows
    assert_close(loss_and_grads(model, lambda: causal_lm_loss(model, inputs)), whole, rel=1e-6)


def test_under_bf16_autocast_it_matches_the_autocast_forward(tiny_model_dir: Path) -> None:
    model = lora_model(tiny_model_dir)
    inputs = batch(model.config.vocab_size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = loss_and_grads(model, lambda: model(**inputs).loss)
        fused = loss_and_grads(model, lambda: causal_lm_loss(model, inputs))
    assert_close(fused, plain, rel=2e-2)  # bf16 rounding of logits and their gradient


def test_without_gradients_only_the_loss_is_computed(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = lora_model(tiny_model_dir)
    inputs = batch(model.config.vocab_size)
    training = causal_lm_loss(model, inputs)
    assert training.grad_fn is not None
    asked: list[bool] = []
    real = fused_loss._chunked_loss

    def spy(*args: Any, with_grads: bool) -> Any:
        asked.append(with_grads)
        return real(*args, with_grads=with_grads)

    monkeypatch.setattr(fused_loss, "_chunked_loss", spy)
    with torch.no_grad():
        evaluation = causal_lm_loss(model, inputs)
    assert asked == [False]  # no hidden-state gradient computed
    assert evaluation.grad_fn is None  # and no graph kept
    assert float(evaluation) == pytest.approx(float(training.detach()), rel=1e-6)


def test_it_applies_only_to_plain_frozen_heads(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

    assert fused_loss_applies(lora_model(tiny_model_dir))
    full = AutoModelForCausalLM.from_pretrained(tiny_model_dir)  # every weight trains
    assert not fused_loss_applies(full)
    assert not fused_loss_applies(lora_model(tiny_model_dir, modules_to_save=["lm_head"]))
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    gpt2.requires_grad_(False)
    assert not fused_loss_applies(gpt2)  # not a known plain-head architecture
    assert not fused_loss_applies(torch.nn.DataParallel(lora_model(tiny_model_dir)))
    remote = lora_model(tiny_model_dir).get_base_model()
    remote.__class__ = type("LlamaForCausalLM", (type(remote),), {"__module__": "remote_code"})
    assert not fused_loss_applies(remote)  # the same name from outside transformers


@pytest.mark.parametrize("autocast", [None, "bfloat16"])
def test_the_trainer_loss_is_the_fused_one_on_padding_free_rows(
    tiny_model_dir: Path, tmp_path: Path, autocast: str | None
) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer, Trainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = Dataset.from_dict({"input_ids": [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17]]})
    model = lora_model(tiny_model_dir)
    trainer = plain_loss_trainer()(
        model=model,
        args=sft_config(SftSection(batch_size=3), Runtime("cpu", "float32", autocast), tmp_path),
        train_dataset=rows,
        processing_class=tokenizer,
    )
    assert fused_loss_applies(trainer.model)
    inputs = next(iter(trainer.get_train_dataloader()))
    assert "cu_seq_lens_q" in inputs  # one padding-free row of three documents
    with torch.no_grad():
        fused = float(trainer.compute_loss(trainer.model, inputs))
        plain = float(Trainer.compute_loss(trainer, trainer.model, inputs))
    assert fused == pytest.approx(plain, rel=1e-5 if autocast is None else 1e-2)


def test_training_with_activation_checkpointing_updates_the_adapter(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = Dataset.from_dict({"input_ids": [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14, 15]] * 2})
    model = lora_model(tiny_model_dir)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    sft = SftSection(batch_size=2, grad_accum=1, activation_checkpointing=True, max_steps=1)
    trainer = plain_loss_trainer()(
        model=model,
        args=sft_config(sft, Runtime("cpu", "float32", "bfloat16"), tmp_path),
        train_dataset=rows,
        processing_class=tokenizer,
    )
    assert fused_loss_applies(trainer.model) and trainer.args.gradient_checkpointing
    trainer.train()
    changed = [n for n, p in model.named_parameters() if n in before and not p.equal(before[n])]
    assert len(changed) == len(before)  # every LoRA matrix moved


def test_the_flag_trainer_adds_for_liger_is_not_passed_to_the_decoder(
    tiny_model_dir: Path,
) -> None:
    model = lora_model(tiny_model_dir)
    inputs = batch(model.config.vocab_size)
    seen: list[str] = []
    decoder = model.get_base_model().get_decoder()
    decoder.register_forward_pre_hook(
        lambda module, args, kwargs: seen.extend(kwargs), with_kwargs=True
    )
    with torch.no_grad():  # evaluation, where Trainer adds `skip_logits` when Liger runs
        flagged = causal_lm_loss(model, {**inputs, "skip_logits": True})
        plain = causal_lm_loss(model, inputs)
    assert "input_ids" in seen and "skip_logits" not in seen
    assert float(flagged) == float(plain)
