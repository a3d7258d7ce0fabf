"""Built-in environments; importing the package registers them."""

from envs import arithmetic, code_feedback, dataset, gsm8k, mbpp, skills, tool_arithmetic, verilog  # noqa: F401
