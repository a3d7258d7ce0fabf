"""Finding the program in a model response for the `code` reward."""

from __future__ import annotations

import pytest

from rewards.code.extract import extract_code


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("Here:\n```py\nx = 2\n```\nDone.", "x = 2\n"),
        ("```python\nx = 1\n```\nbetter:\n```python\nx = 3\n```", "x = 3\n"),
        ("```python\nx = 1\n```\n```text\nnot code\n```", "x = 1\n"),
        ("```\nx = 4\n```", "x = 4\n"),
        ("```\nuntagged\n```\n```python\ntagged\n```\n```\nlater untagged\n```", "tagged\n"),
        ("```Python3 title\nx = 5\n```", "x = 5\n"),
        ("```python\ndef f():\n    return 1", "def f():\n    return 1"),
        ("def f():\n    return 1\n", "def f():\n    return 1\n"),
        ("```text\nonly prose\n```", ""),
        ("```", ""),
        ("", ""),
    ],
)
def test_extract_code(response, code):
    assert extract_code(response) == code
