"""``predict`` output: generated token ids decoded to text and written to a file."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter

__all__ = ["TextWriter"]


class TextWriter(BasePredictionWriter):
    """Write every generated sequence (prompt + continuation), decoded by the data module, to
    ``output_path`` (one block per sample, separated by a ``=====`` line)."""

    def __init__(self, output_path: str = "samples.txt") -> None:
        super().__init__(write_interval="epoch")
        self.output_path = output_path

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        dm = trainer.datamodule
        texts = [dm.decode(row.tolist()) for batch in predictions for row in batch]
        path = Path(self.output_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n=====\n".join(texts) + "\n", encoding="utf-8")
