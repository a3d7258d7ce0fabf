"""Built-in reward plugins; importing the package registers them."""

from rewards import code, exact, math, rtl  # noqa: F401
