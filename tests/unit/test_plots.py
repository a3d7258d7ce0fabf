"""The reward panel: per-step mean, a trailing moving average, held-out accuracy points, no ± std band."""

from __future__ import annotations

import json

from rlpost.plots import (
    episodes_panel,
    heldout_events,
    heldout_points,
    moving_average,
    plot_run,
    pyplot,
    reward_panel,
    smoothing_window,
)


def test_moving_average_is_trailing():
    assert moving_average([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([0.0, 1.0, 1.0], 5) == [0.0, 0.5, 2 / 3]
    assert smoothing_window(150) == 15 and smoothing_window(5) == 1 and smoothing_window(1000) == 25


def _matrix(run, k: int) -> None:
    (run / "continual").mkdir(parents=True)
    data = {
        "method": "rl", "tasks": ["a", "b", "general:x"], "stages": ["a", "b"], "k": k,
        "initial": {"step": 0, "accuracy": [0.2, 0.2, 0.9], "pass_at_k": [0.3, 0.3, 0.9]},
        "rows": [{"stage": "a", "step": 50, "accuracy": [0.6, 0.8, 0.1], "pass_at_k": [0.5, 0.7, 0.1]}],
    }  # fmt: skip
    (run / "continual" / "matrix.json").write_text(json.dumps(data))


def test_heldout_events_from_the_matrix(tmp_path):
    _matrix(tmp_path, k=1)
    events = heldout_events(tmp_path)
    assert [e["step"] for e in events] == [0, 50]
    assert events[1]["greedy"] == 0.7 and abs(events[1]["sampled"] - 0.6) < 1e-12  # general tasks left out
    assert heldout_points([], events) == {"greedy": ([0, 50], [0.2, 0.7]), "sampled": ([0, 50], [0.3, 0.6])}
    other = tmp_path / "k4"
    _matrix(other, k=4)
    assert all("sampled" not in e for e in heldout_events(other))  # pass@4 is not a sampled accuracy
    assert heldout_events(tmp_path / "none") == []


def test_reward_panel_draws_no_band(tmp_path):
    rows = [{"step": s, "reward/mean": (s % 2) * 0.5 + s / 100, "reward/std": 0.5} for s in range(1, 41)]
    rows[10]["heldout/greedy_accuracy"] = 0.4
    plt = pyplot()
    fig, ax = plt.subplots()
    assert reward_panel(ax, rows, [])
    assert not ax.collections  # fill_between would add a PolyCollection
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["mean per step", "moving average (4 steps)", "held-out greedy accuracy"]
    plt.close(fig)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert plot_run(tmp_path).exists()


def test_heldout_points_merge_the_start_event_with_later_metrics():
    rows = [{"step": 25, "heldout/greedy_accuracy": 0.5}, {"step": 50, "heldout/greedy_accuracy": 0.75}]
    events = [{"event": "heldout", "step": 0, "greedy": 0.25, "sampled": 0.3}, {"event": "restart", "step": 3}]
    assert heldout_points(rows, events) == {"greedy": ([0, 25, 50], [0.25, 0.5, 0.75]), "sampled": ([0], [0.3])}


def test_episodes_panel_shows_the_tool_use_trend(tmp_path):
    rows = [{"step": s, "reward/mean": s / 40, "episode/tool_use_rate": s / 40, "episode/turns_mean": 1 + s / 40}
            for s in range(1, 41)]  # fmt: skip
    plt = pyplot()
    fig, ax = plt.subplots()
    assert episodes_panel(ax, rows, [])
    trend = ax.get_lines()[1].get_ydata()
    assert list(trend) == sorted(trend) and trend[-1] > trend[0] + 0.5  # the smoothed rate rises with the data
    assert ax.get_ylim() == (-0.02, 1.02)
    plt.close(fig)
    assert not episodes_panel(plt.subplots()[1], [{"step": 1, "reward/mean": 0.0}], [])
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert plot_run(tmp_path).exists()
