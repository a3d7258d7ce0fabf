"""Greedy and sampled (temperature 1) accuracy of checkpoints on the arithmetic test split.

.venv/bin/python benchmarks/heldout_accuracy.py runs/quickstart/warmup_model runs/quickstart/checkpoints/final
"""

from __future__ import annotations

import argparse

import torch


def accuracy(path: str, rows: list[dict], sample: bool, seed: int = 0) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    torch.manual_seed(seed)
    correct = 0
    for row in rows:
        ids = torch.tensor([tok(row["prompt"], add_special_tokens=False)["input_ids"]])
        out = model.generate(
            ids,
            max_new_tokens=8,
            do_sample=sample,
            temperature=1.0 if sample else None,
            top_k=None,
            top_p=None,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        correct += tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip() == row["answer"]
    return correct / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--test-size", type=int, default=200)
    args = parser.parse_args()
    from envs.arithmetic import make_rows

    rows = make_rows("test", digits=args.digits, test_size=args.test_size)
    print("| checkpoint | greedy | sampled (T=1) |\n|---|---|---|")
    for path in args.checkpoints:
        print(f"| {path} | {accuracy(path, rows, False):.3f} | {accuracy(path, rows, True):.3f} |")


if __name__ == "__main__":
    main()
