"""Built-in environments; importing the package registers them."""

from envs import arithmetic  # noqa: F401
