"""Observations as token ids, framed as the policy will see them.

In chat environments the frame comes from the tokenizer's chat template: the template is rendered
once with placeholder contents and cut around them, so the ids between the policy's end of turn and
the next generation prompt are exactly the template's. In raw environments an observation is
framed as `\\n<role>\\n...\\n</role>\\n`. The content itself is encoded with special tokens split,
so a tool that prints `<|im_end|>` or the EOS string cannot fake a turn boundary or a role.
"""

from __future__ import annotations

from dataclasses import dataclass

_ASSISTANT = "\u2063rlpost-assistant\u2063"  # placeholders no template contains
_CONTENT = "\u2063rlpost-observation\u2063"


@dataclass(frozen=True)
class ObservationFrame:
    """The ids around an observation's content: `close` ends the policy's turn as the template would
    (only the part the policy did not generate is appended), `before` and `after` enclose the content
    (`after` ends with the next turn's generation prompt)."""

    close: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]

    def ids(self, turn_ids: list[int], content_ids: list[int]) -> list[int]:
        """The ids appended after a policy turn `turn_ids` to show `content_ids`."""
        done = next((k for k in range(len(self.close), 0, -1) if turn_ids[-k:] == list(self.close[:k])), 0)
        return [*self.close[done:], *self.before, *content_ids, *self.after]


def _encode(tokenizer, text: str) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()


def encode_content(tokenizer, text: str) -> list[int]:
    """Ids of untrusted text with special tokens split into plain text (no special id can come out)."""
    return list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])


def raw_frame(tokenizer, role: str) -> ObservationFrame:
    return ObservationFrame((), _encode(tokenizer, f"\n<{role}>\n"), _encode(tokenizer, f"\n</{role}>\n"))


def chat_frame(tokenizer, role: str) -> ObservationFrame:
    """The frame of a `role` message after an assistant turn, cut from the chat template's own rendering."""
    base = [{"role": "user", "content": "u"}, {"role": "assistant", "content": _ASSISTANT}]
    earlier = tokenizer.apply_chat_template(base, tokenize=False)
    full = tokenizer.apply_chat_template(base + [{"role": role, "content": _CONTENT}], tokenize=False, add_generation_prompt=True)
    if not full.startswith(earlier) or _CONTENT not in full:
        raise ValueError(
            f"the chat template renders the conversation differently once a {role!r} message follows (or drops it); "
            "multi-turn rollout needs a template that only appends"
        )
    close = earlier[earlier.index(_ASSISTANT) + len(_ASSISTANT) :]
    before, _, after = full[len(earlier) :].partition(_CONTENT)
    return ObservationFrame(_encode(tokenizer, close), _encode(tokenizer, before), _encode(tokenizer, after))


def frame(tokenizer, role: str, chat: bool) -> ObservationFrame:
    return chat_frame(tokenizer, role) if chat else raw_frame(tokenizer, role)


def transcript_text(tokenizer, turns: list[tuple[str, str]], chat: bool) -> str:
    """A reference episode, (role, text) per turn, as one completion text for supervised warm-up: policy
    turns but the last end with the EOS token, observations are framed by the same ids rollout appends."""
    ids: list[int] = []
    for k, (role, text) in enumerate(turns):
        if role == "assistant":
            ids += list(_encode(tokenizer, text)) + ([tokenizer.eos_token_id] if k < len(turns) - 1 else [])
        else:
            ids += frame(tokenizer, role, chat).ids(ids, encode_content(tokenizer, text))
    return tokenizer.decode(ids)
