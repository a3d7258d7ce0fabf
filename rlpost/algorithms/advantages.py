"""Advantage estimators: sequence rewards [B] -> token advantages [B, T]."""

from __future__ import annotations

import torch


def group_normalized_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    norm_by_std: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """GRPO outcome advantage, broadcast to every response token.

    rewards [B] float, group_ids [B] int (same id = same prompt), response_mask [B, T].
    A_i = (r_i − mean_g) / (std_g + eps) with the unbiased std of the group, or r_i − mean_g when
    `norm_by_std` is off (Dr. GRPO). A group of one sample gets A = 0.
    """
    rewards = rewards.to(torch.float32)
    scores = torch.zeros_like(rewards)
    for gid in torch.unique(group_ids):
        idx = group_ids == gid
        group = rewards[idx]
        # Equal rewards -> A = 0 exactly (in float32 the mean of equal values can be off by an
        # ulp, and dividing that by std + eps = eps would give |A| up to ~1).
        if group.numel() < 2 or bool((group == group[0]).all()):
            continue
        centred = group - group.mean()
        if norm_by_std:
            centred = centred / (group.std(unbiased=True) + eps)
        scores[idx] = centred
    return scores.unsqueeze(-1) * response_mask.to(torch.float32)


def _last_token_index(response_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index [B] of each row's last position with mask 1, and a bool [B] saying the row has one."""
    mask = response_mask.bool()
    width = mask.shape[-1]
    last = (width - 1) - mask.flip(-1).to(torch.int64).argmax(dim=-1)
    return last, mask.any(dim=-1)


def gae_advantages(
    token_rewards: torch.Tensor,
    values: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    gamma: float = 1.0,
    lam: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over response tokens (PPO). Returns (advantages, returns).

    token_rewards, values, response_mask: [B, T], right-padded; response tokens are those with
    mask 1 (leading prompt positions may be in the tensor with mask 0). values[:, t] is V of the
    state before token t; the value after a row's last response token is 0 (episode ends).
    δ_t = r_t + γ·V_next − V_t and A_t = δ_t + γλ·A_next, where "next" is the next position with
    mask 1: positions with mask 0 inside the response are skipped (V_next and A_next carried
    through them unchanged, as verl does), and their rewards and values are ignored.
    Returns = A + V. Both outputs [B, T] are 0 outside the mask. Not whitened (see `masked_whiten`).
    """
    dtype = torch.promote_types(token_rewards.dtype, values.dtype)
    rewards = token_rewards.to(dtype)
    vals = values.to(dtype)
    mask = response_mask.bool()
    next_value = torch.zeros(rewards.shape[0], dtype=dtype, device=rewards.device)
    running = torch.zeros_like(next_value)
    advantages = torch.zeros_like(rewards)
    for t in reversed(range(rewards.shape[-1])):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - vals[:, t]
        running = torch.where(m, delta + gamma * lam * running, running)
        next_value = torch.where(m, vals[:, t], next_value)
        advantages[:, t] = running
    zero = torch.zeros((), dtype=dtype, device=rewards.device)
    advantages = torch.where(mask, advantages, zero)
    returns = torch.where(mask, advantages + vals, zero)
    return advantages, returns


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, *, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Whiten `x` [B, T] over the entries where `mask` [B, T] is 1; returns [B, T], 0 outside the mask.

    (x − μ) / sqrt(σ² + eps) with μ the masked mean and σ² the unbiased (n − 1) masked variance,
    as verl's masked_whiten; with `shift_mean=False` μ is added back (only the scale changes).
    With fewer than 2 masked entries σ² is taken as 0 (verl raises instead), so a single entry
    becomes 0 (or μ without the shift) and an empty mask gives all zeros.
    """
    keep = mask.bool()
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    n = keep.sum().to(x.dtype)
    mean = torch.where(keep, x, zero).sum() / n.clamp(min=1.0)
    centred = torch.where(keep, x - mean, zero)
    if float(n) < 2.0:
        var = zero
    else:
        var = centred.square().sum() / (n - 1.0)
    whitened = centred * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(keep, whitened, zero)


def token_level_rewards(
    rewards: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    kl: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> torch.Tensor:
    """PPO token rewards [B, T]: −kl_coef·kl_t on response tokens plus the sequence reward at the
    last response token of each row.

    rewards [B], response_mask [B, T], kl [B, T] (e.g. `kl_penalty(..., "k1")`) or None.
    A row with no response token has no token to carry its reward: the row is all zeros.
    Raises ValueError when kl_coef != 0 but no kl is given.
    """
    if kl is None and kl_coef != 0.0:
        raise ValueError("kl_coef is non-zero but no kl was given")
    dtype = torch.promote_types(rewards.dtype, torch.float32)
    if kl is not None:
        dtype = torch.promote_types(dtype, kl.dtype)
    mask = response_mask.bool()
    zero = torch.zeros((), dtype=dtype, device=mask.device)
    out = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    if kl is not None:
        out = torch.where(mask, -kl_coef * kl.to(dtype), zero)
    last, has_token = _last_token_index(mask)
    seq_reward = torch.where(has_token, rewards.to(dtype), zero)
    return out.scatter_add(-1, last.unsqueeze(-1), seq_reward.unsqueeze(-1))


def remax_advantages(
    rewards: torch.Tensor,
    baseline_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip: float | None = None,
) -> torch.Tensor:
    """ReMax advantage A = r(x, a) − r(x, ā) (ā the greedy response), broadcast to response tokens.

    rewards [B] of the sampled responses, baseline_rewards [B] of the greedy ones, response_mask
    [B, T]. With `clip` (> 0; the official code uses 5) A is clamped to [−clip, clip].
    A sampled response equal to its greedy one gets the same reward, hence A = 0. Returns [B, T].
    """
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be > 0 (or None), got {clip!r}")
    dtype = torch.promote_types(torch.promote_types(rewards.dtype, baseline_rewards.dtype), torch.float32)
    adv = rewards.to(dtype) - baseline_rewards.to(dtype)
    if clip is not None:
        adv = adv.clamp(-clip, clip)
    return adv.unsqueeze(-1) * response_mask.to(dtype)


def rloo_advantages(rewards: torch.Tensor, group_ids: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """RLOO (Ahmadian et al. 2024): each sample's baseline is the mean reward of the other samples of its
    group, A_i = r_i − (Σ_g r − r_i)/(n − 1) = n/(n − 1)·(r_i − mean_g); a group of one gets A = 0.
    rewards [B], group_ids [B], response_mask [B, T] -> [B, T] (A broadcast to response tokens)."""
    rewards = rewards.to(torch.float32)
    scores = torch.zeros_like(rewards)
    for gid in torch.unique(group_ids):
        idx = group_ids == gid
        group = rewards[idx]
        n = group.numel()
        if n < 2 or bool((group == group[0]).all()):
            continue
        scores[idx] = group - (group.sum() - group) / (n - 1)
    return scores.unsqueeze(-1) * response_mask.to(torch.float32)


def discounted_returns(token_rewards: torch.Tensor, response_mask: torch.Tensor, *, gamma: float = 1.0) -> torch.Tensor:
    """G_t = r_t + γ·G_next over response tokens (positions with mask 0 are skipped, G carried through);
    token_rewards, response_mask [B, T] -> [B, T], 0 outside the mask."""
    mask = response_mask.bool()
    running = torch.zeros(token_rewards.shape[0], dtype=token_rewards.dtype, device=token_rewards.device)
    out = torch.zeros_like(token_rewards)
    for t in reversed(range(token_rewards.shape[-1])):
        running = torch.where(mask[:, t], token_rewards[:, t] + gamma * running, running)
        out[:, t] = running
    return torch.where(mask, out, torch.zeros((), dtype=out.dtype, device=out.device))


def reinforce_pp_advantages(
    rewards: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    kl: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    gamma: float = 1.0,
    group_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """REINFORCE++ (Hu 2025): token rewards −β·kl_t plus the sequence reward at the last token, their
    discounted returns, then whitened over every response token of the batch (the global normalisation
    that replaces a critic). With `group_ids` (REINFORCE++-baseline) each reward first has its group's
    mean subtracted. rewards [B], response_mask / kl [B, T] -> [B, T]."""
    if group_ids is not None:
        rewards = rewards.to(torch.promote_types(rewards.dtype, torch.float32)).clone()
        for gid in torch.unique(group_ids):
            idx = group_ids == gid
            rewards[idx] = rewards[idx] - rewards[idx].mean()
    token_rewards = token_level_rewards(rewards, response_mask, kl=kl, kl_coef=kl_coef)
    return masked_whiten(discounted_returns(token_rewards, response_mask, gamma=gamma), response_mask)
