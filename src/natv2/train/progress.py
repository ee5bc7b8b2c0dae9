"""Progress of supernet training: phase, epoch, loss, throughput, epoch and phase ETA.

Three modes (`progress_mode`): a tqdm bar on a terminal; on anything else (a log file, a pipe) a plain
line every `LINE_EVERY_S` seconds, without carriage returns; none at all with run.progress=false or
NATV2_PROGRESS=0. Every mode prints one line per finished epoch.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

LINE_EVERY_S = 30.0
PROGRESS_ENV = "NATV2_PROGRESS"


def progress_mode(enabled: bool, stream: TextIO | None = None) -> str:
    """'bar', 'lines' or 'off' for a progress display on `stream` (default stderr)."""
    if not enabled or os.environ.get(PROGRESS_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return "off"
    stream = stream if stream is not None else sys.stderr
    return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"


class Progress:
    """Training progress of one phase: `enabled` is run.progress; `main` is whether this is rank 0."""

    def __init__(self, enabled: bool, phase: str, total_epochs: int, steps: int, start_epoch: int = 0,
                 stream: TextIO | None = None, main: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.main = main  # only the first rank shows anything
        self.mode = progress_mode(enabled and main, self.stream)
        self.phase, self.total_epochs, self.steps = phase, total_epochs, steps
        self.first_epoch = start_epoch
        self.bar = None
        self.t_phase = self.t_line = time.perf_counter()
        self.steps_done = 0
        self.images = 0
        self.epoch = start_epoch
        self.loss = float("nan")

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.mode != "bar":
            return
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=self.steps, desc=f"{self.phase} {epoch + 1}/{self.total_epochs}", unit="step",
                        leave=False, file=self.stream, dynamic_ncols=True)

    def step(self, i: int, loss: float, images: int) -> None:
        self.steps_done += 1
        self.images += images
        self.loss = loss if self.loss != self.loss else 0.9 * self.loss + 0.1 * loss
        if self.mode == "off":
            return
        if self.bar is not None:
            self.bar.set_postfix_str(self._status(), refresh=False)
            self.bar.update(1)
        elif self.mode == "lines" and time.perf_counter() - self.t_line >= LINE_EVERY_S:
            self.t_line = time.perf_counter()
            self._print(f"[{self.phase}] epoch {self.epoch + 1}/{self.total_epochs} step {i + 1}/{self.steps}  {self._status()}")

    def _status(self) -> str:
        elapsed = max(time.perf_counter() - self.t_phase, 1e-9)
        remaining = (self.total_epochs - self.first_epoch) * self.steps - self.steps_done
        eta = elapsed / max(self.steps_done, 1) * remaining
        return f"loss {self.loss:.3f} | {self.images / elapsed:.0f} img/s | phase ETA {_hms(eta)}"

    def end_epoch(self, train_loss: float, val_mean: float | None) -> None:
        self.close()
        val = "-" if val_mean is None else f"{100 * val_mean:.2f}%"
        self._print(f"[{self.phase}] epoch {self.epoch + 1}/{self.total_epochs}  loss {train_loss:.4f}  val(grid mean) {val}")

    def _print(self, line: str) -> None:
        if not self.main:
            return
        if self.mode == "bar":
            from tqdm.auto import tqdm

            tqdm.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _hms(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
