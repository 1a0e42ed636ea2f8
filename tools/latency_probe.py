#!/usr/bin/env python3
"""Glass-to-publish latency, frame rate and the daemon's CPU use, as a subscriber sees them.

Subscribes to a running `dmask run` for a while and reports, over the frame
messages received: publish_ts - capture_ts (p50, p99; capture_ts is the time
the frame was read from the source), the rate of frames received, and gaps;
and, over the status messages, the cores the daemon kept busy (`cpu_cores`).
Both timestamps come from the daemon's clock, so the subscriber's clock does
not matter.

Usage: python tools/latency_probe.py tcp://127.0.0.1:5555 --seconds 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmask.serve.transport import Subscriber  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    latencies, seqs, cores = [], [], []
    with Subscriber(args.endpoint, topics=(b"frame", b"status")) as subscriber:
        while subscriber.receive(5.0) is None:
            pass
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            message = subscriber.receive(1.0)
            if message is not None and message.topic == "status" and message.header.get("cpu_cores") is not None:
                cores.append(message.header["cpu_cores"])
            elif message is not None and message.topic == "frame" and message.header["seq"] >= 0:
                latencies.append(message.header["publish_ts"] - message.header["capture_ts"])
                seqs.append(message.header["seq"])
        elapsed = time.monotonic() - started
    ms = np.array(latencies) * 1e3
    gaps = int(np.clip(np.diff(seqs) - 1, 0, None).sum()) if len(seqs) > 1 else 0
    print(f"{len(ms)} frames in {elapsed:.1f} s: {len(ms) / elapsed:.1f} fps received, {gaps} frames dropped by the daemon")
    print(f"capture to publish: p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms")
    if cores:
        print(f"daemon CPU: {np.mean(cores):.2f} cores busy on average over {len(cores)} status messages (max {max(cores):.2f})")


if __name__ == "__main__":
    main()
