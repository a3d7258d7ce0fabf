"""`rlpost rewards list` and `rlpost rewards test`: output lines, bad input lines, exit codes."""

from __future__ import annotations

import json

import pytest

from rlpost.cli import main
from tests.conftest import ROOT


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_list_shows_the_builtin_rewards_with_descriptions(capsys):
    assert main(["rewards", "list"]) == 0
    lines = {line.split()[0]: line.split(maxsplit=1)[1] for line in capsys.readouterr().out.splitlines()}
    assert "math-verify" in lines["math"] and "sandbox" in lines["code"] and "exact_answer" in lines


def test_scores_every_line_and_reports_bad_ones(capsys, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"prompt": "q", "response": "so #### 72", "answer": "72"}\n'
        "not json\n"
        "\n"
        '{"prompt": "q"}\n'
        '{"response": "\\\\boxed{1/2}", "answer": "0.5"}\n'
        '{"response": "#### 1"}\n'
        '["a list"]\n'
        '{"response": "The answer is 3", "answer": "4"}\n'
    )
    code, records, err = _run(capsys, ["rewards", "test", "math", "--input", str(path), "--param", "format_weight=0.5"])
    assert code == 1
    assert [r["line"] for r in records] == [1, 2, 4, 5, 6, 7, 8]
    by_line = {r["line"]: r for r in records}
    assert by_line[1]["score"] == 1.5 and by_line[1]["components"] == {"math": 1.5, "math/correct": 1.0, "math/format": 1.0}
    assert by_line[5]["score"] == 1.5 and by_line[8]["score"] == 0.5 and by_line[8]["info"]
    for line in (1, 5, 8):
        assert by_line[line]["error"] is None and by_line[line]["seconds"] >= 0
    assert "invalid JSON" in by_line[2]["error"] and by_line[2]["score"] is None
    assert "string 'response'" in by_line[4]["error"] and "string 'response'" in by_line[7]["error"]
    assert "no reference field 'answer'" in by_line[6]["error"]
    assert [line.split(":")[1] for line in err.splitlines()] == ["2", "4", "6", "7"]
    assert all(line.startswith(f"{path}:") for line in err.splitlines())


def test_all_good_lines_exit_zero_with_a_file_plugin(capsys, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"response": "a1b2"}\n{"response": "1234"}\n')
    plugin = f"{ROOT / 'tests/plugins/digit_reward.py'}:digit_fraction"
    code, records, err = _run(capsys, ["rewards", "test", plugin, "--input", str(path), "--param", "bonus=1"])
    assert code == 0 and err == ""
    assert [r["score"] for r in records] == [1.5, 2.0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rewards", "test", "test_no_such_reward", "--input", "{input}"], "unknown reward 'test_no_such_reward'"),
        (["rewards", "test", "math", "--input", "{missing}"], "No such file"),
        (["rewards", "test", "math", "--input", "{input}", "--param", "noequals"], "expected key.path=value"),
    ],
)
def test_bad_commands_exit_two(capsys, tmp_path, argv, message):
    (tmp_path / "in.jsonl").write_text('{"response": "#### 1", "answer": "1"}\n')
    argv = [a.format(input=tmp_path / "in.jsonl", missing=tmp_path / "missing.jsonl") for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and message in captured.err


SPAN_PLUGIN = '''
import json, os, time


def span(sample, log: str) -> float:
    """Holds each sample 1 s and logs which process scored it, from when to when."""
    start = time.time()
    time.sleep(1.0)
    with open(log, "a") as f:
        f.write(json.dumps([os.getpid(), start, time.time()]) + "\\n")
    return 1.0
'''


@pytest.mark.slow
def test_workers_score_samples_in_parallel(capsys, tmp_path):
    import ray

    (tmp_path / "span.py").write_text(SPAN_PLUGIN)
    (tmp_path / "in.jsonl").write_text('{"response": "x"}\n' * 4 + "not json\n")
    argv = ["rewards", "test", f"{tmp_path / 'span.py'}:span", "--input", str(tmp_path / "in.jsonl"), "--workers", "2",
            "--param", f"log={tmp_path / 'spans.jsonl'}"]  # fmt: skip
    try:
        code, records, _ = _run(capsys, argv)
    finally:
        ray.shutdown()
    assert code == 1 and [r["line"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["score"] for r in records[:4]] == [1.0] * 4 and "invalid JSON" in records[4]["error"]
    spans = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    assert len(spans) == 4 and len({pid for pid, _, _ in spans}) == 2
    overlapping = [(a, b) for a in spans for b in spans if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]]
    assert overlapping, spans  # two workers held samples at the same time
