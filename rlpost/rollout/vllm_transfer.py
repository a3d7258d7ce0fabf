"""rlpost's collective weight path as an engine of vLLM's weight-transfer registry
(`vllm.distributed.weight_transfer`), so vLLM's own worker hooks (`init_weight_transfer_engine`,
`start_weight_update`, `update_weights`, `finish_weight_update`) drive it: gloo on CPU (vLLM ships
no CPU engine), NCCL between GPUs, both `rlpost.collective`. Received buckets go through vLLM's
layerwise reload, as in vLLM's NCCL engine, so CPU weight repacking happens after the last one.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm.distributed.weight_transfer import WeightTransferEngineFactory
from vllm.distributed.weight_transfer.base import WeightTransferEngine, WeightTransferInitInfo, WeightTransferUpdateInfo

from rlpost.collective import GroupInfo, TensorMeta, join, receive

BACKEND = "rlpost_collective"


@dataclass
class InitInfo(WeightTransferInitInfo):
    group: dict  # GroupInfo's fields
    rank_offset: int  # this engine's first member rank (its tensor-parallel workers follow)


@dataclass
class UpdateInfo(WeightTransferUpdateInfo):
    metas: list[list]  # [name, dtype, shape] per tensor, in broadcast order


class CollectiveEngine(WeightTransferEngine[InitInfo, UpdateInfo]):
    init_info_cls = InitInfo
    update_info_cls = UpdateInfo

    def init_transfer_engine(self, init_info: InitInfo) -> None:
        from vllm.distributed import get_tensor_model_parallel_rank

        self.info = GroupInfo(**init_info.group)
        self.store, self.group = join(self.info, init_info.rank_offset + get_tensor_model_parallel_rank(), self.device)

    def start_weight_update(self) -> None:
        from vllm.model_executor.model_loader.reload import initialize_layerwise_reload

        initialize_layerwise_reload(self.model)

    def finish_weight_update(self) -> None:
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload

        finalize_layerwise_reload(self.model, self.model_config)

    def receive_weights(self, update_info: UpdateInfo) -> None:
        metas = [TensorMeta(name, dtype, tuple(shape)) for name, dtype, shape in update_info.metas]
        for bucket in receive(self.group, metas, self.info.bucket_bytes, self.device):
            self.model.load_weights(bucket)

    def shutdown(self) -> None:
        self.group, self.store = None, None


def register() -> None:
    """Make the engine known to vLLM in this process (before the `LLM` is built); idempotent."""
    try:
        WeightTransferEngineFactory.register_engine(BACKEND, CollectiveEngine)
    except ValueError:  # registered already
        pass
