"""Progress bar of supernet training: phase, epoch, loss, throughput, epoch and phase ETA."""

from __future__ import annotations

import sys
import time


class Progress:
    """A tqdm bar per epoch (rank 0 only); a no-op when disabled."""

    def __init__(self, enabled: bool, phase: str, total_epochs: int, steps: int, start_epoch: int = 0) -> None:
        self.enabled = enabled
        self.phase, self.total_epochs, self.steps = phase, total_epochs, steps
        self.first_epoch = start_epoch
        self.bar = None
        self.t_phase = time.perf_counter()
        self.steps_done = 0
        self.images = 0
        self.epoch = start_epoch
        self.loss = float("nan")

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=self.steps, desc=f"{self.phase} {epoch + 1}/{self.total_epochs}", unit="step",
                        leave=False, file=sys.stderr, dynamic_ncols=True)
        self.t_epoch = time.perf_counter()

    def step(self, i: int, loss: float, images: int) -> None:
        self.steps_done += 1
        self.images += images
        self.loss = loss if self.loss != self.loss else 0.9 * self.loss + 0.1 * loss
        if self.bar is None:
            return
        elapsed = time.perf_counter() - self.t_phase
        remaining = (self.total_epochs - self.first_epoch) * self.steps - self.steps_done
        eta = elapsed / self.steps_done * remaining
        self.bar.set_postfix_str(f"loss {self.loss:.3f} | {self.images / elapsed:.0f} img/s | phase ETA {_hms(eta)}",
                                 refresh=False)
        self.bar.update(1)

    def end_epoch(self, train_loss: float, val_mean: float | None) -> None:
        if self.bar is None:
            return
        self.bar.close()
        self.bar = None
        val = "-" if val_mean is None else f"{val_mean:.2f}%"
        from tqdm.auto import tqdm

        tqdm.write(f"[{self.phase}] epoch {self.epoch + 1}/{self.total_epochs}  loss {train_loss:.4f}  val(grid mean) {val}",
                   file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _hms(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
