#!/usr/bin/env python3
"""Time the committed face models on the CPU, ONNX files with onnxruntime and TFLite files with LiteRT, and print a table.

    python3 tools/bench_models.py                       # threads 1 and 2, iris batch 1 and 2
    python3 tools/bench_models.py --threads 1 --runs 500
    python3 tools/bench_models.py --baseline-dir /tmp/dm-work/straight   # also time the straight
        # tf2onnx conversions kept by `tools/build_models.py --work-dir /tmp/dm-work`

Each row is the median (and p10/p90) of --runs calls after --warmup calls, one session per
(model, threads). Each case's calls are consecutive (interleaving single calls of several
multi-threaded sessions makes their spinning worker threads fight over the cores), in --repeats
sweeps over all cases so that slow drifts of background load affect all cases alike.
Session options: ORT_ENABLE_ALL, intra_op_num_threads=N, execution mode sequential with
inter_op_num_threads=1 (--parallel-mode adds ORT_PARALLEL rows with inter_op_num_threads=2).
The TFLite files (MediaPipe's own, unchanged) run in LiteRT's interpreter with its default
XNNPACK delegate on N threads, the input resized to the batch; parallel mode does not apply.
Inputs are random values in the documented range (latency does not depend on the values).

The "tracked frame" lines add up what a tracked frame runs: face_landmark once plus the iris model
for both eyes, either as one batch-2 call or as two batch-1 calls.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parent.parent


def litert_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")


def load_specs(models_dir: Path) -> list[dict]:
    man = json.loads((models_dir / "manifest.json").read_text())
    return man["models"]


def make_session(path: Path, threads: int, parallel: bool) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 2 if parallel else 1
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def litert_call(path: Path, threads: int, x: np.ndarray):
    """A zero-argument call that runs the TFLite file once on x (LiteRT, XNNPACK)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()

    def call():
        interpreter.set_tensor(index, x)
        interpreter.invoke()
    return call


def make_input(spec_input: dict, batch: int, rng: np.random.Generator) -> np.ndarray:
    shape = [batch if not isinstance(d, int) else d for d in spec_input["shape"]]
    lo = -1.0 if spec_input["range"].startswith("[-1") else 0.0
    return rng.uniform(lo, 1.0, size=shape).astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default=str(REPO / "models"))
    ap.add_argument("--baseline-dir", help="directory with straight conversions (same file names)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--iris-batch", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=4,
                    help="split the runs of every case into this many sweeps over all cases")
    ap.add_argument("--parallel-mode", action="store_true", help="also time ORT_PARALLEL")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)

    models_dir = Path(args.models_dir)
    specs = load_specs(models_dir)
    rng = np.random.default_rng(0)
    sets = [("committed", models_dir)]
    if args.baseline_dir:
        sets.append(("straight", Path(args.baseline_dir)))
    modes = [False, True] if args.parallel_mode else [False]

    # Build every (set, model, mode, threads, batch) case first.
    cases = []
    for set_name, d in sets:
        for spec in specs:
            path = d / spec["file"]
            if not path.exists():
                print(f"skip {path} (missing)", file=sys.stderr)
                continue
            dyn = not isinstance(spec["inputs"][0]["shape"][0], int)
            batches = args.iris_batch if dyn else [spec["inputs"][0]["shape"][0]]
            runtime = "litert" if path.suffix == ".tflite" else "onnxruntime"
            for parallel in modes if runtime == "onnxruntime" else [False]:
                for threads in args.threads:
                    sess = make_session(path, threads, parallel) if runtime == "onnxruntime" else None
                    fixed = sess.get_inputs()[0].shape[0] if sess else None
                    for b in batches:
                        if isinstance(fixed, int) and b != fixed:
                            continue  # e.g. straight iris conversion is fixed batch 1
                        x = make_input(spec["inputs"][0], b, rng)
                        call = ((lambda s=sess, f={sess.get_inputs()[0].name: x}: s.run(None, f)) if sess
                                else litert_call(path, threads, x))
                        cases.append({"row": {"set": set_name, "runtime": runtime, "model": spec["name"],
                                              "batch": b, "threads": threads,
                                              "mode": "parallel" if parallel else "sequential"},
                                      "call": call, "t": []})
    # Consecutive calls per case (an idle multi-threaded session's workers stop spinning, so they
    # do not steal cores from the case being timed), swept --repeats times so that slow drifts of
    # background load spread over all cases.
    per_block = [args.runs // args.repeats + (1 if i < args.runs % args.repeats else 0)
                 for i in range(args.repeats)]
    for c in cases:
        for _ in range(args.warmup):
            c["call"]()
    for n in per_block:
        for c in cases:
            for _ in range(5):  # re-warm caches and wake the session's worker threads
                c["call"]()
            for _ in range(n):
                t0 = time.perf_counter()
                c["call"]()
                c["t"].append((time.perf_counter() - t0) * 1e3)
    rows = []
    for c in cases:
        t = c["t"]
        q = statistics.quantiles(t, n=10)
        rows.append({**c["row"], "median_ms": statistics.median(t), "p10_ms": q[0],
                     "p90_ms": q[-1]})

    print(f"onnxruntime {ort.__version__} (CPUExecutionProvider, ORT_ENABLE_ALL), LiteRT {litert_version()} "
          f"(XNNPACK); median of {args.runs} runs after {args.warmup} warm-up")
    hdr = f"{'set':10} {'runtime':11} {'model':28} {'batch':>5} {'thr':>3} {'mode':10} " \
          f"{'median ms':>9} {'p10':>7} {'p90':>7} {'ms/item':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['set']:10} {r['runtime']:11} {r['model']:28} {r['batch']:>5} {r['threads']:>3} {r['mode']:10} "
              f"{r['median_ms']:9.3f} {r['p10_ms']:7.3f} {r['p90_ms']:7.3f} "
              f"{r['median_ms'] / r['batch']:8.3f}")

    def get(set_name, runtime, model, batch, threads, mode="sequential"):
        for r in rows:
            if (r["set"], r["runtime"], r["model"], r["batch"], r["threads"], r["mode"]) == \
                    (set_name, runtime, model, batch, threads, mode):
                return r["median_ms"]
        return None

    print()
    print("tracked frame (face_landmark + iris for both eyes), sequential:")
    for set_name, _ in sets:
        for runtime in ("onnxruntime", "litert"):
            for threads in args.threads:
                lm = get(set_name, runtime, "face_landmark", 1, threads)
                i1 = get(set_name, runtime, "iris_landmark", 1, threads)
                i2 = get(set_name, runtime, "iris_landmark", 2, threads)
                parts = []
                if lm is not None and i1 is not None:
                    parts.append(f"2 x batch-1 iris: {lm + 2 * i1:6.3f} ms")
                if lm is not None and i2 is not None:
                    parts.append(f"1 x batch-2 iris: {lm + i2:6.3f} ms")
                if parts:
                    print(f"  {set_name:10} {runtime:11} threads={threads}: " + ";  ".join(parts))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
