"""In-process fakes of the trainer's protocols (`rlpost.trainer.protocols`): the real loop runs on
them in seconds, without Ray, vLLM or DeepSpeed. Each records what the loop asked of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rlpost.rewards import Sample, Scored, resolve_reward, score_with_bindings
from rlpost.rollout import Completion, SamplingSpec
from rlpost.tinymodel import build_tokenizer
from rlpost.trainer.protocols import Cluster, LaunchSpec, TrainStats

Policy = Callable[[str, int, SamplingSpec], str]  # (prompt text, sample index, spec) -> response text


def model_dir(path: Path, pad_token: bool = True, max_position: int = 256) -> Path:
    """A directory with the tiny character tokenizer and a model config (no weights: the fakes need none)."""
    from transformers import Qwen2Config

    tok = build_tokenizer()
    if not pad_token:
        tok.pad_token = None
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(path)
    config = Qwen2Config(
        vocab_size=128, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=max_position
    )
    config.save_pretrained(path)
    return path


def answer(prompt: str) -> str:
    """The right answer of an arithmetic prompt `a+b=`."""
    a, b = prompt.rstrip("=").split("+")
    return str(int(a) + int(b))


def right_first(k: int) -> Policy:
    """Samples 0..k-1 right, the rest wrong (greedy: wrong)."""

    def policy(prompt: str, i: int, spec: SamplingSpec) -> str:
        if spec.temperature == 0:
            return "x"
        return answer(prompt) if i < k else "x" * (1 + i % 3)

    return policy


class FakeEngines:
    def __init__(self, tokenizer, policy: Policy):
        self.tokenizer, self.policy = tokenizer, policy
        self.calls: list[tuple[list[str], SamplingSpec]] = []  # (prompt texts, spec) per generate
        self.restarts: list[int] = []

    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        texts = [self.tokenizer.decode(p) for p in prompts]
        self.calls.append((texts, spec))
        out = []
        for text in texts:
            group = []
            for i in range(spec.n):
                response = self.policy(text, i, spec)
                ids = self.tokenizer(response, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
                group.append(Completion(ids, [-0.5 - 0.01 * j for j in range(len(ids))], response, False))
            out.append(group)
        return out

    def restart(self, index: int) -> None:
        self.restarts.append(index)


@dataclass
class FakeLearners:
    has_critic: bool
    has_reference: bool
    kl_per_token: float = 0.1  # old − ref logprob on every response token
    params: list[tuple[dict, dict | None]] = field(default_factory=list)
    trained: list[tuple[Any, bool]] = field(default_factory=list)  # (batch, policy trained)
    saved: list[tuple[Path, bool]] = field(default_factory=list)
    loaded: list[Path] = field(default_factory=list)

    def set_params(self, policy, critic) -> None:
        self.params.append((dict(policy), None if critic is None else dict(critic)))

    def old_logprobs(self, batch) -> torch.Tensor:
        return batch.rollout_logprobs.clone()

    def ref_logprobs(self, batch) -> torch.Tensor:
        return (batch.rollout_logprobs - self.kl_per_token) * batch.response_mask

    def values(self, batch) -> torch.Tensor:
        return torch.zeros_like(batch.rollout_logprobs)

    def train(self, batch, policy: bool = True) -> TrainStats:
        """Stats as a learner reports them: the KL term only when it is in the loss."""
        self.trained.append((batch, policy))
        params = self.params[-1][0]
        stats = {"pg_loss": 0.5, "grad_norm": 1.0}
        if params["kl_coef"] > 0 and params["kl_in"] == "loss":
            stats["kl"] = 0.02
        return TrainStats([stats] if policy else [], [{"vf_loss": 0.25}] if self.has_critic else [])

    def save(self, path: Path, with_state: bool) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "policy.txt").write_text(f"{len(self.trained)} updates\n")
        if with_state:
            (path / "deepspeed").mkdir(exist_ok=True)
            (path / "deepspeed" / "optimizer.txt").write_text("state\n")
        self.saved.append((path, with_state))

    def load(self, path: Path) -> None:
        self.loaded.append(path)


class FakeRewards:
    """Scores in this process with the bindings the launcher was given, recording the keys used."""

    def __init__(self, bindings: dict[str, list[dict]]):
        self.bindings = {k: [(resolve_reward(b["name"]), b["weight"], b["params"]) for b in v] for k, v in bindings.items()}
        self.keys: list[str] = []
        self.restarts = 0

    def score(self, samples: list[Sample], bindings: list[str]) -> list[Scored]:
        self.keys += bindings
        return [score_with_bindings(self.bindings[k], [s], 0.0)[0] for s, k in zip(samples, bindings)]


class FakeChannel:
    def __init__(self):
        self.version = 0
        self.fail: list[BaseException] = []

    def push(self) -> float:
        if self.fail:
            raise self.fail.pop(0)
        self.version += 1
        return 0.001


@dataclass
class FakeCluster:
    """A launcher: `launch(cfg, spec)` builds the fakes (policy as given) and keeps them for the test."""

    policy: Policy
    spec: LaunchSpec | None = None
    cluster: Cluster | None = None
    closed: int = 0
    before_launch: Callable[[FakeCluster], None] | None = None

    def launch(self, cfg, spec: LaunchSpec) -> Cluster:
        from transformers import AutoTokenizer

        self.spec = spec
        tokenizer = AutoTokenizer.from_pretrained(spec.model_path)
        self.engines = FakeEngines(tokenizer, self.policy)
        self.learners = FakeLearners(spec.critic_params is not None, spec.reference)
        self.rewards = FakeRewards(spec.bindings)
        self.channel = FakeChannel()
        if self.before_launch:
            self.before_launch(self)
        self.cluster = Cluster(self.engines, self.learners, self.rewards, self.channel, self._close, "fake cluster")
        return self.cluster

    def _close(self) -> None:
        self.closed += 1
