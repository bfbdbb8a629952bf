"""The baseline: SmoLoRA's workflow as a plain transformers + peft + trl script.

LoRA r=8, alpha 16, dropout 0.1 on q_proj,v_proj; batch 1 x grad-accum 8; lr 2e-4;
max_length 1024; fp32; no packing; trl's other defaults as a hand-written script gets them;
the adapter is merged by reloading the base model; prompts are answered one at a time.
`--bf16` makes it the script a person writes for a GPU: bfloat16 weights and training, and
the prompts answered on CUDA when it is there. Each phase is timed and the result written as
JSON (with the peak GPU memory when CUDA is used):

    python bench/baseline_trl.py --model DIR --train train.jsonl --out DIR --result out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

PROMPTS = (
    "What does the global statement do?",
    "Explain what a generator expression is.",
    "How are default argument values evaluated?",
    "What is the difference between is and ==?",
)
MAX_NEW_TOKENS = 32


def main() -> None:
    """Run load -> dataset -> train -> merge -> sample and write the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a local model folder")
    parser.add_argument("--train", type=Path, required=True, help='jsonl of {"text": ...}')
    parser.add_argument("--out", type=Path, required=True, help="folder for adapter and merged")
    parser.add_argument("--result", type=Path, required=True, help="where to write the JSON")
    parser.add_argument(
        "--bf16", action="store_true", help="bfloat16 weights and training; sample on CUDA"
    )
    args = parser.parse_args()
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = round(now - clock, 3)
        clock = now

    import torch
    from datasets import load_dataset
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    lap("imports")
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype)
    lap("load")
    dataset = load_dataset("json", data_files=str(args.train), split="train")
    config = SFTConfig(
        output_dir=str(args.out / "checkpoints"),
        per_device_train_batch_size=1,
        gradient_accumulation_steps=8,
        learning_rate=2e-4,
        num_train_epochs=1,
        max_length=1024,
        packing=False,
        bf16=args.bf16,
        use_cpu=not cuda,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_steps=1,  # measurement only: the last optimizer step's loss
    )
    lora = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.1,
        target_modules=["q_proj", "v_proj"],
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora,
    )
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    lap("dataset")
    trainer.train()
    lap("train")
    peak_gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None
    trainer.model.save_pretrained(args.out / "adapter")
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    del trainer, model
    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype)
    merged = PeftModel.from_pretrained(base, args.out / "adapter").merge_and_unload()
    merged.save_pretrained(args.out / "merged")
    tokenizer.save_pretrained(args.out / "merged")
    lap("merge")
    device = "cuda" if args.bf16 and cuda else "cpu"
    merged.to(device)
    generated = 0
    for prompt in PROMPTS:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        inputs = tokenizer(text, return_tensors="pt").to(device)
        with torch.no_grad():
            output = merged.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        generated += output.shape[1] - inputs["input_ids"].shape[1]
    lap("sample")
    result = {
        "phases": phases,
        "trained_tokens": tokens,
        "train_sequences": len(dataset),
        "tokens_per_second": round(tokens / phases["train"], 2),
        "final_train_loss": losses[-1] if losses else None,
        "generated_tokens": generated,
        "sample_tokens_per_second": round(generated / phases["sample"], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mb": peak_gpu_mb,
        "merged": str(args.out / "merged"),
    }
    args.result.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
