"""End-to-end latency of the live view: from a frame's capture to its drawing in a browser, p50 and p99.

    python tools/view_latency.py VIDEO [--seconds 20]

Runs the real chain on loopback: `dmask run` on VIDEO as a paced, looping
source (its frames' capture_ts is the wall time of the read), `dmask view`
relaying it, and Debian's Chromium, headless, logged in. The page notes, for
every frame it draws, now minus the frame's capture time (X-Capture-Ts); this
prints the median and 99th percentile over --seconds, after a warm-up, with
the machine's CPU model. Needs chromium and chromium-driver
(tools/install_test_services.sh) and selenium (the dev extra).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmask.report_folder import cpu_model  # noqa: E402
from dmask.view.auth import Users  # noqa: E402

USER, PASSWORD = "latency", "a password for the latency probe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        Users(directory / "users.json").add(USER, PASSWORD)
        publish, port = free_port(), free_port()
        config = directory / "dmask.yaml"
        config.write_text(
            f"source:\n  uri: {args.video.resolve()}\n  loop: true\n  pace: true\n"
            f"publish:\n  endpoints: ['tcp://127.0.0.1:{publish}']\n"
            f"view:\n  endpoint: tcp://127.0.0.1:{publish}\n  port: {port}\n  users_file: {directory / 'users.json'}\n")
        command = [sys.executable, "-m", "dmask.cli"]
        processes = [subprocess.Popen([*command, "run", "--config", str(config)], cwd=REPO),
                     subprocess.Popen([*command, "view", "--config", str(config)], cwd=REPO)]
        driver = None
        try:
            def listening() -> bool:
                with socket.socket() as probe:
                    return probe.connect_ex(("127.0.0.1", port)) == 0

            wait(listening, 60, "dmask view")
            driver = browser()
            driver.get(f"http://127.0.0.1:{port}/login")
            driver.find_element(By.ID, "user").send_keys(USER)
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "login").click()
            frames = lambda: driver.execute_script("return window.dmaskView ? window.dmaskView.frames : 0")  # noqa: E731
            wait(lambda: frames() >= 60, 120, "the page to draw 60 frames")
            driver.execute_script("window.dmaskView.latencies.length = 0")
            start = frames()
            time.sleep(args.seconds)
            latencies = [1000.0 * value for value in driver.execute_script("return window.dmaskView.latencies")]
            drawn = frames() - start
        finally:
            if driver is not None:
                driver.quit()
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"{args.video.name}: {drawn} frames drawn in {args.seconds:g} s ({drawn / args.seconds:.1f} fps); "
          f"capture to browser p50 {statistics.median(latencies):.0f} ms, p99 {quantiles[98]:.0f} ms "
          f"(last {len(latencies)} frames); {cpu_model()}")


if __name__ == "__main__":
    main()
