"""LiteRT (ai-edge-litert): MediaPipe's own TFLite files on the CPU, through XNNPACK.

MediaPipe runs these networks with XNNPACK, which takes 12 to 35% less time
than onnxruntime on their ONNX conversions here (small convolutional
models; tools/bench_models.py). The runner has the same `run` interface as
`inference.OnnxModel`, so the tracker does not know which it drives.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from dmask.backends import BackendUnavailable
from dmask.measure.inference import require_model_file


class LiteRTModel:
    """One LiteRT interpreter, with XNNPACK on `threads` threads.

    The iris model runs both eyes in one call: the input is resized to the
    batch when it changes. Its TFLite file reshapes outputs to batch 1
    ((1, B x K) for B images), so outputs are split back into B rows.
    """

    def __init__(self, path: Path, threads: int) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise BackendUnavailable(f"ai-edge-litert is not installed ({error})") from error
        require_model_file(path)
        with _quiet_stderr():  # the first allocation announces the XNNPACK delegate on stderr
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        first_input = self.interpreter.get_input_details()[0]
        self.input = first_input["index"]
        self.batch = int(first_input["shape"][0])
        self.outputs = [d["index"] for d in self.interpreter.get_output_details()]

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        """images: (B, H, W, 3) float32 RGB; returns outputs flattened per batch item."""
        if len(images) != self.batch:
            self.interpreter.resize_tensor_input(self.input, images.shape)
            self.interpreter.allocate_tensors()
            self.batch = len(images)
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(images, np.float32))
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(index).reshape(len(images), -1) for index in self.outputs]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null for the duration (native code's prints included).

    Only at start-up, before the daemon's threads run: another thread's
    messages in the window would be lost too."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
