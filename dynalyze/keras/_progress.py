"""A tqdm progress bar per training epoch, as a Keras callback (imports Keras when called)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["progress_callback"]

logger = logging.getLogger("dynalyze.keras.training")


def progress_callback(epochs: int, steps: int, enabled: bool) -> keras.callbacks.Callback:
    """A callback drawing a tqdm bar per epoch (when ``enabled``) and logging each epoch."""
    import keras
    from tqdm.auto import tqdm

    class _Progress(keras.callbacks.Callback):  # type: ignore[misc]  # Keras is untyped
        """A tqdm bar per epoch; logs a one-line summary at INFO after each epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.bar: Any = None
            self.started = 0.0

        def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            self.started = time.perf_counter()
            self.bar = tqdm(
                total=steps,
                desc=f"epoch {epoch + 1}/{epochs}",
                unit="batch",
                disable=not enabled,
                leave=False,
                dynamic_ncols=True,
            )

        def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
            if self.bar is None:
                return
            self.bar.update(1)
            if logs and batch % 10 == 0:
                self.bar.set_postfix(
                    loss=f"{float(logs.get('loss', math.nan)):.3f}",
                    acc=f"{float(logs.get('accuracy', math.nan)):.3f}",
                    refresh=False,
                )

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            logs = logs or {}
            logger.info(
                "epoch %d/%d: loss %.4f, accuracy %.4f, val_accuracy %.4f (%.1f s)",
                epoch + 1,
                epochs,
                float(logs.get("loss", math.nan)),
                float(logs.get("accuracy", math.nan)),
                float(logs.get("val_accuracy", math.nan)),
                time.perf_counter() - self.started,
            )

    return _Progress()
