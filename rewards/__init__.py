"""Built-in reward plugins; importing the package registers them."""

from rewards import code, episode, exact, llm_judge, math, reward_model, rtl  # noqa: F401
