"""Built-in environments; importing the package registers them."""

from envs import arithmetic, gsm8k, mbpp, skills  # noqa: F401
