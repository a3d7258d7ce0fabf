"""Built-in environments; importing the package registers them."""

from envs import arithmetic, dataset, gsm8k, mbpp, skills, verilog  # noqa: F401
