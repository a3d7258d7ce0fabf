"""Forgetting metrics of a continual accuracy matrix (average accuracy, backward transfer,
forgetting). Pure Python, no I/O."""

from __future__ import annotations


def forgetting_metrics(matrix: list[list[float]]) -> dict[str, float]:
    """Summary of an accuracy matrix a[k][i] (accuracy on task i after stage k; n stages, the
    first n columns being the stages' own tasks, later columns held-out ones, which are ignored):
    average accuracy (1/n)Σ_i a[n][i]; backward transfer (1/(n−1))Σ_{i<n}(a[n][i] − a[i][i]);
    forgetting (1/(n−1))Σ_{i<n} max_{l<n}(a[l][i] − a[n][i]). With one stage both are 0."""
    n = len(matrix)
    if n == 0 or any(len(row) < n for row in matrix):
        raise ValueError("matrix must have one row per stage and at least one column per stage")
    last = matrix[-1]
    out = {"average_accuracy": sum(last[:n]) / n, "backward_transfer": 0.0, "forgetting": 0.0}
    if n > 1:
        out["backward_transfer"] = sum(last[i] - matrix[i][i] for i in range(n - 1)) / (n - 1)
        out["forgetting"] = sum(max(matrix[k][i] for k in range(n - 1)) - last[i] for i in range(n - 1)) / (n - 1)
    return out
