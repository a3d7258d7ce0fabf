"""Build DeepSpeed's just-in-time ops used on CPU once, at install time (`make install`)."""

from __future__ import annotations

import os
import time


def main() -> None:
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    start = time.perf_counter()
    from deepspeed.accelerator import get_accelerator

    if get_accelerator().device_name() != "cpu":
        print("prebuild: not a CPU accelerator; nothing to build")
        return
    from deepspeed.comm.torch import build_shm_op

    build_shm_op()
    print(f"prebuild: DeepSpeed CPU ops ready in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
