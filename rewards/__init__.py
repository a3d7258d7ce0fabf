"""Built-in reward plugins; importing the package registers them."""

from rewards import exact  # noqa: F401
