"""Synthetic string skills for continual post-training experiments, built locally from a seed.

Each skill is its own environment with an exact-answer reward, so a task sequence can exercise
different abilities of a small character-level model:

- `reverse`:     `rev:kdqa=`      -> `aqdk`    (copy in reverse order; lowercase letters)
- `sort_digits`: `sort:40913=`    -> `01349`   (order digits)
- `count_char`:  `count:b:abbcb=` -> `3`       (count one letter's occurrences)

params: min_len / max_len (length of the string, defaults per skill), train_size / test_size
(rows per split, default 2000 / 100), seed (default 0). The two splits share no prompt.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlpost.envs import Environment, RewardSpec, register_env

_SPLIT_SALT = ("test", "train")


@dataclass(frozen=True)
class Skill:
    """`make(rng, length) -> (prompt, answer)`; strings have `min_len..max_len` characters by default."""

    name: str
    description: str
    make: Callable[[random.Random, int], tuple[str, str]]
    min_len: int
    max_len: int


def _reverse(rng: random.Random, length: int) -> tuple[str, str]:
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
    return f"rev:{word}=", word[::-1]


def _sort_digits(rng: random.Random, length: int) -> tuple[str, str]:
    digits = "".join(rng.choice(string.digits) for _ in range(length))
    return f"sort:{digits}=", "".join(sorted(digits))


def _count_char(rng: random.Random, length: int) -> tuple[str, str]:
    letters = "abcd"
    word = "".join(rng.choice(letters) for _ in range(length))
    target = rng.choice(letters)
    return f"count:{target}:{word}=", str(word.count(target))


SKILLS: dict[str, Skill] = {
    s.name: s
    for s in (
        Skill("reverse", "reverse a lowercase word (rev:abc= -> cba)", _reverse, 3, 5),
        Skill("sort_digits", "sort a string of digits (sort:312= -> 123)", _sort_digits, 3, 5),
        Skill("count_char", "count a letter in a word over abcd (count:a:abca= -> 2)", _count_char, 4, 7),
    )
}


def make_rows(
    skill: str,
    split: str,
    min_len: int | None = None,
    max_len: int | None = None,
    train_size: int = 2000,
    test_size: int = 100,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows of `prompt`, `answer` of `skill` for `split` ('train' or 'test')."""
    if split not in _SPLIT_SALT:
        raise ValueError(f"{skill}: unknown split {split!r}; expected 'train' or 'test'")
    spec = SKILLS[skill]
    lo, hi = min_len or spec.min_len, max_len or spec.max_len
    if not 1 <= lo <= hi <= 24:
        raise ValueError(f"{skill}: need 1 <= params.min_len <= params.max_len <= 24, got {lo}..{hi}")
    rng = random.Random(f"{skill}-{seed}")
    seen: set[str] = set()
    splits: dict[str, list[dict[str, Any]]] = {"test": [], "train": []}
    for name, size in (("test", test_size), ("train", train_size)):
        tries = 0
        while len(splits[name]) < size:
            tries += 1
            if tries > 50 * (train_size + test_size):
                raise ValueError(f"{skill}: cannot draw {train_size + test_size} distinct problems with lengths {lo}..{hi}")
            prompt, answer = spec.make(rng, rng.randint(lo, hi))
            if prompt not in seen:
                seen.add(prompt)
                splits[name].append({"prompt": prompt, "answer": answer})
    return splits[split]


PARAMS = ("min_len", "max_len", "train_size", "test_size", "seed")


def _loader(skill: str):
    def load(split: str, params: dict[str, Any]):
        import datasets

        unknown = sorted(set(params) - set(PARAMS))
        if unknown:
            raise ValueError(f"{skill}: unknown params key(s) {unknown}; expected some of {list(PARAMS)}")
        return datasets.Dataset.from_list(make_rows(skill, split, **params))

    return load


for _skill in SKILLS.values():
    register_env(
        Environment(
            name=_skill.name,
            description=f"synthetic skill: {_skill.description}; exact-answer reward; built locally",
            load=_loader(_skill.name),
            rewards=(RewardSpec("exact_answer"),),
            reference_fields=("answer",),
            sft_target=lambda row: row["answer"],
        )
    )
