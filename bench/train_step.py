"""One training lever at a time, without the trainer: tokens/s of LoRA forward+backward+step.

A fixed random batch through the default model with a LoRA adapter; the median of a few
steps after one warm-up step. Used to predict and check the levers in bench/NOTES.md:

    python bench/train_step.py --dtype bf16 --targets q_proj,v_proj --r 8 --batch 4
    python bench/train_step.py --dtype fp32 --checkpointing        # the baseline's setting
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def tokens_per_second(args: argparse.Namespace) -> float:
    """Median training tokens/s over `args.steps` steps after a warm-up step."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from smolora_recipes.recipe.builtin_models import classify_model
    from smolora_recipes.steps.load import resolve_model_folder

    folder, _ = resolve_model_folder(classify_model("smollm2-135m-instruct"), None, print)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation=args.attention
    )
    targets = args.targets if args.targets == "all-linear" else args.targets.split(",")
    lora = LoraConfig(
        r=args.r, lora_alpha=2 * args.r, lora_dropout=args.dropout, target_modules=targets
    )
    model = get_peft_model(model, lora)
    if args.head == "fused":
        from trl.trainer.utils import add_fused_lm_head

        add_fused_lm_head(model.get_base_model(), outputs=("log_probs", "entropy", "is_top1"))
    if args.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = torch.randint(0, model.config.vocab_size, (args.batch, args.length))
    extra = {}
    if args.packed > 1:  # one row of `packed` documents, attention kept inside each
        piece = args.length // args.packed
        extra["position_ids"] = torch.arange(piece).repeat(args.packed)[None].expand(args.batch, -1)
        if args.varlen:
            from smolora_recipes.training.varlen_attention import use_varlen_attention

            use_varlen_attention(model)
            bounds = torch.arange(0, args.length + 1, piece, dtype=torch.int32)
            extra["cu_seq_lens_q"] = extra["cu_seq_lens_k"] = bounds
    forward = torch.compile(model) if args.compile else model
    seconds = []
    for _ in range(args.steps + 1):
        started = time.perf_counter()
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if args.dtype == "bf16"
            else contextlib.nullcontext()
        )
        with autocast:
            if args.head == "fused":
                log_probs = forward(
                    input_ids=batch, labels=batch, fused_lm_head=True, **extra
                ).log_probs
                loss = -log_probs.sum() / log_probs.numel()
            else:
                loss = forward(input_ids=batch, labels=batch, **extra).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seconds.append(time.perf_counter() - started)
    return args.batch * args.length / statistics.median(seconds[1:])


def main() -> None:
    """Print tokens/s for the lever settings given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="bf16")
    parser.add_argument("--targets", default="all-linear", help="all-linear or a comma list")
    parser.add_argument("--r", type=int, default=16)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--packed", type=int, default=1, help="documents packed per row")
    parser.add_argument("--varlen", action="store_true", help="per-document attention (packed)")
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument(
        "--head",
        choices=("plain", "fused"),
        default="plain",
        help="LM head + loss: full logits, "
        "or trl's chunked fused head (log-probs, entropy and accuracy, recomputed in backward)",
    )
    parser.add_argument("--attention", choices=("sdpa", "eager"), default="sdpa")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = parser.parse_args()
    print(f"{tokens_per_second(args):.1f} tokens/s  {vars(args)}")


if __name__ == "__main__":
    main()
