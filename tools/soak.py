"""A long run of the daemon, and its memory over time: does RSS level off?

Starts `dmask run` on a looping video (paced at its own frame rate, as a
camera would deliver it), drains what it publishes with one subscriber, and
every --interval seconds prints the daemon's resident memory (VmRSS), the
frames received and the rate. At the end: the growth over the whole run and
over its second half (MiB per minute, a least-squares slope), which is ~0
when memory has levelled off.

    python tools/soak.py ../shared/data/videos/lp_source_s32.mp4 --minutes 60

Not part of the test suite (an hour); the closing notes carry its curve.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmask.report_folder import cpu_model  # noqa: E402
from dmask.serve.transport import Subscriber  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def drain(endpoint: str, stop: threading.Event, counts: list[int]) -> None:
    with Subscriber(endpoint, topics=(b"frame",)) as subscriber:
        while not stop.is_set():
            if subscriber.receive(0.5) is not None:
                counts[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        endpoint = f"ipc://{tmp}/pub"
        config = Path(tmp) / "dmask.yaml"
        config.write_text(f"source:\n  uri: '{args.video.resolve()}'\n  loop: true\n  pace: true\n"
                          f"publish:\n  endpoints: [{endpoint}]\n")
        daemon = subprocess.Popen([sys.executable, "-m", "dmask.cli", "run", "--config", str(config)],
                                  stderr=subprocess.DEVNULL)
        stop, counts = threading.Event(), [0]
        reader = threading.Thread(target=drain, args=(endpoint, stop, counts), daemon=True)
        reader.start()
        print(f"CPU: {cpu_model()}; video {args.video.name}; {args.minutes:g} minutes\n")
        print("| minute | RSS (MiB) | frames received | fps |\n|---|---|---|---|", flush=True)
        samples: list[tuple[float, float]] = []
        start = time.monotonic()
        last_frames, last_time = 0, start
        try:
            while time.monotonic() - start < args.minutes * 60:
                time.sleep(args.interval)
                now, frames = time.monotonic(), counts[0]
                minute, rss = (now - start) / 60, rss_mib(daemon.pid)
                samples.append((minute, rss))
                print(f"| {minute:.1f} | {rss:.1f} | {frames} | {(frames - last_frames) / (now - last_time):.1f} |", flush=True)
                last_frames, last_time = frames, now
        finally:
            stop.set()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
    minutes, rss = np.array(samples).T
    half = minutes >= minutes[-1] / 2
    whole = np.polyfit(minutes, rss, 1)[0] if len(minutes) > 1 else float("nan")
    late = np.polyfit(minutes[half], rss[half], 1)[0] if half.sum() > 1 else float("nan")
    print(f"\nRSS {rss[0]:.1f} MiB at {minutes[0]:.1f} min, {rss[-1]:.1f} MiB at {minutes[-1]:.1f} min; "
          f"slope {whole:+.3f} MiB/min overall, {late:+.3f} MiB/min over the second half")


if __name__ == "__main__":
    main()
