"""Held-out loss of a merged model folder, computed the same way for every contender.

Each text is tokenized as the trainers do (the tokenizer's special tokens, then EOS) and
scored in float32, one text at a time; the result is the mean loss per predicted token.

    python bench/eval_loss.py MODEL_DIR eval.jsonl     # prints {"eval_loss": ..., "tokens": ...}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def eval_loss(model_dir: Path, texts: list[str]) -> tuple[float, int]:
    """Mean next-token loss over all texts, and the number of tokens it averages."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
            batch = torch.tensor([ids])
            loss = model(input_ids=batch, labels=batch).loss
            total += float(loss) * (len(ids) - 1)
            count += len(ids) - 1
    return total / count, count


def main() -> None:
    """Print the eval loss of MODEL_DIR on the texts of a jsonl file as JSON."""
    model_dir, eval_file = Path(sys.argv[1]), Path(sys.argv[2])
    texts = [json.loads(line)["text"] for line in eval_file.read_text().splitlines()]
    loss, tokens = eval_loss(model_dir, texts)
    print(json.dumps({"eval_loss": round(loss, 5), "tokens": tokens}))


if __name__ == "__main__":
    main()
