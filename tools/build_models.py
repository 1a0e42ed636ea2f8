#!/usr/bin/env python3
"""Build the ONNX face models in ``models/`` from MediaPipe's Apache-2.0 TFLite models.

Reproducible pipeline (run from anywhere; only the standard library is needed to start it):

    python3 tools/build_models.py                 # throwaway venv under /tmp, deleted afterwards
    python3 tools/build_models.py --venv /tmp/dm-tf2onnx-venv   # create/reuse a venv there

Steps:
 1. create (or reuse) a virtualenv OUTSIDE the repository with pinned converter versions
    (tensorflow-cpu, tf2onnx, onnx, ...; see ``VENV_PINS``) and re-run this script inside it;
 2. ``pip download mediapipe==0.10.14 --no-deps`` for one fixed wheel (manylinux x86_64 cp311;
    only its .tflite files are read, so the platform does not matter) and check its sha256;
 3. extract the three .tflite files and check their sha256;
 4. convert each with ``python -m tf2onnx.convert --tflite FILE --output OUT --opset 17``;
 5. post-process with the ``onnx`` package (deterministic graph edits, see ``postprocess``):
    canonical initializer names/order, exact PRelu decomposition (speed), dynamic iris batch;
 6. verify: TFLite interpreter vs straight conversion vs post-processed model on a real face
    (scikit-image's astronaut), iris batch-2 vs two batch-1 calls;
 7. write ``models/*.onnx``, the three .tflite files as shipped (LiteRT runs them: see
    ``inference.cpu_runtime``), ``models/manifest.json`` and ``models/MODELS.md``.

The committed .onnx files are plain ONNX graphs (opset 17, no ORT-specific ops or layouts) so they
stay portable to TensorRT / the CUDA execution provider.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "models"

# --------------------------------------------------------------------------------------------
# Pinned inputs
# --------------------------------------------------------------------------------------------
SOURCE_PACKAGE = "mediapipe"
SOURCE_VERSION = "0.10.14"
SOURCE_INDEX = "PyPI"
LICENCE = "Apache-2.0"
WHEEL_FILENAME = "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
WHEEL_PLATFORM_ARGS = [
    "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11",
    "--implementation", "cp", "--abi", "cp311", "--only-binary=:all:",
]

OPSET = 17
# Versions that determine the bytes of the converted graphs.
CONVERTER_PINS = {
    "tensorflow-cpu": "2.15.1",   # tf2onnx 1.17 is tested against TF 2.13-2.15
    "tf2onnx": "1.17.0",
    "onnx": "1.17.0",
    "numpy": "1.26.4",
    "protobuf": "4.25.9",
    "flatbuffers": "25.12.19",
}
# Only used for the verification step (not for the artifact bytes).
VERIFY_PINS = {
    "onnxruntime": "1.20.1",
    "scikit-image": "0.24.0",
}
VENV_PINS = {**CONVERTER_PINS, **VERIFY_PINS}

CONVERT_CMD = "python -m tf2onnx.convert --tflite {src} --output {dst} --opset %d" % OPSET

# Post-processing step ids -> human readable description (also written to MODELS.md).
PP_DESCRIPTIONS = {
    "canonical-initializers": (
        "Put the nodes in a canonical topological order (post-order DFS from the outputs), name "
        "nodes and intermediate tensors `<OpType>_<k>` in that order (graph input/output names "
        "are kept), rename every initializer to `<first consuming node>/<role>` and store them in "
        "order of first use; drop unused initializers and the unused `ai.onnx.ml` opset import; clear "
        "`value_info`. tf2onnx's node order, the surviving names of merged duplicate nodes and its "
        "folded-constant names (`const_fold_opt__N`) differ from run to run; this makes the file "
        "byte-reproducible. No numerical change."
    ),
    "prelu-decompose": (
        "Replace every `PRelu(x, a)` (per-channel slope `a`, shape 1xCx1x1) by the exact equivalent "
        "`Add(Relu(x), Conv_dw(Relu(Conv_dw(x, w=-1)), w=-a))` where `Conv_dw` is a bias-free 1x1 "
        "depthwise Conv (group=C). For x>0 this is x+0, for x<=0 it is 0+(-a)(-x)=a*x, so the "
        "result is bit-identical. Reason: onnxruntime's CPU PRelu kernel is ~7x slower than "
        "Relu/Conv and breaks its NCHWc layout (reorders around every PRelu); this roughly halves "
        "the landmark/iris latency on CPU. All ops stay standard ONNX (Relu, 1x1 depthwise Conv, "
        "Add); not yet timed on TensorRT, where native PRelu would also be fine."
    ),
    "dynamic-batch": (
        "Make the batch dimension symbolic (`batch`) on the graph input and outputs, and replace the "
        "two output Reshape shape constants `[1, -1]` (hard-coded batch 1) by `[-1, K]` "
        "(K = 213 / 15), so both eyes run in one call (input Bx64x64x3)."
    ),
}

MODELS = [
    {
        "name": "face_detection_short_range",
        "file": "face_detection_short_range.onnx",
        "source_path": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "source_sha256": "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        "postprocess": ["canonical-initializers"],
        "description": "BlazeFace short-range face detector (faces within ~2 m).",
        "inputs": [
            {"name": "input", "shape": [1, 128, 128, 3], "dtype": "float32",
             "layout": "NHWC, RGB",
             "range": "[-1, 1] (pixel / 127.5 - 1); whole frame letterboxed/resized to 128x128"},
        ],
        "outputs": [
            {"name": "regressors", "shape": [1, 896, 16], "dtype": "float32",
             "meaning": "per anchor: box centre dx, dy, w, h, then 6 keypoints (x, y) "
                        "(right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion), "
                        "in 128-px input pixels relative to the anchor centre "
                        "(896 SSD anchors: strides 8, 16, 16, 16; 2 + 6 anchors per cell)"},
            {"name": "classificators", "shape": [1, 896, 1], "dtype": "float32",
             "meaning": "per-anchor face logit; score = sigmoid(clip(logit, -100, 100))"},
        ],
    },
    {
        "name": "face_landmark",
        "file": "face_landmark.onnx",
        "source_path": "mediapipe/modules/face_landmark/face_landmark.tflite",
        "source_sha256": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        "postprocess": ["prelu-decompose", "canonical-initializers"],
        "description": "Face mesh: 468 3-D landmarks on a face crop (no attention/refinement).",
        "inputs": [
            {"name": "input_1", "shape": [1, 192, 192, 3], "dtype": "float32",
             "layout": "NHWC, RGB",
             "range": "[0, 1] (pixel / 255); rotated square face crop resized to 192x192"},
        ],
        "outputs": [
            {"name": "conv2d_21", "shape": [1, 1, 1, 1404], "dtype": "float32",
             "meaning": "468 x (x, y, z): x, y in 192-px crop pixels; z relative depth in the same "
                        "pixel scale (reshape to 468x3)"},
            {"name": "conv2d_31", "shape": [1, 1, 1, 1], "dtype": "float32",
             "meaning": "face-presence logit; probability = sigmoid(logit)"},
        ],
    },
    {
        "name": "iris_landmark",
        "file": "iris_landmark.onnx",
        "source_path": "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "source_sha256": "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        "postprocess": ["prelu-decompose", "dynamic-batch", "canonical-initializers"],
        "description": "Iris + eye contour landmarks on an eye crop; batch is dynamic so both "
                       "eyes run in one call.",
        "inputs": [
            {"name": "input_1", "shape": ["batch", 64, 64, 3], "dtype": "float32",
             "layout": "NHWC, RGB",
             "range": "[0, 1] (pixel / 255); square eye crop resized to 64x64. As in MediaPipe, "
                      "the eye at mesh corners 33/133 (subject's right) is fed as is and the eye "
                      "at 362/263 (subject's left) mirrored horizontally (un-mirror its x outputs)"},
        ],
        "outputs": [
            {"name": "output_eyes_contours_and_brows", "shape": ["batch", 213], "dtype": "float32",
             "meaning": "71 x (x, y, z) eye contour + brow points in 64-px crop pixels"},
            {"name": "output_iris", "shape": ["batch", 15], "dtype": "float32",
             "meaning": "5 x (x, y, z): iris centre then 4 iris boundary points, 64-px crop pixels"},
        ],
    },
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg: str) -> None:
    print(f"[build_models] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kw)


# --------------------------------------------------------------------------------------------
# Stage 1 (any python3): virtualenv
# --------------------------------------------------------------------------------------------
def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    try:
        venv.resolve().relative_to(REPO)
        sys.exit(f"refusing to put the converter venv inside the repository: {venv}")
    except ValueError:
        pass
    if not py.exists():
        run([sys.executable, "-m", "venv", str(venv)])
        run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([py, "-m", "pip", "install", "--quiet"] + [f"{k}=={v}" for k, v in VENV_PINS.items()])
    return py


def outer_main(args: argparse.Namespace) -> int:
    tmp_venv = None
    if args.venv:
        venv = Path(args.venv).resolve()
    else:
        tmp_venv = Path(tempfile.mkdtemp(prefix="dm-tf2onnx-venv-"))
        venv = tmp_venv
    try:
        py = ensure_venv(venv)
        cmd = [str(py), str(Path(__file__).resolve()), "--in-venv", "--out-dir", str(args.out_dir)]
        if args.wheel:
            cmd += ["--wheel", str(Path(args.wheel).resolve())]
        if args.work_dir:
            cmd += ["--work-dir", str(Path(args.work_dir).resolve())]
        env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="2",
                   CUDA_VISIBLE_DEVICES="", PYTHONNOUSERSITE="1")
        log("$ " + " ".join(cmd))
        return subprocess.run(cmd, env=env).returncode
    finally:
        if tmp_venv is not None:
            shutil.rmtree(tmp_venv, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Stage 2 (inside the venv): download, convert, post-process, verify, write
# --------------------------------------------------------------------------------------------
def check_versions() -> dict:
    from importlib.metadata import version
    got = {k: version(k) for k in VENV_PINS}
    bad = {k: (v, VENV_PINS[k]) for k, v in got.items() if v != VENV_PINS[k]}
    if bad:
        sys.exit(f"venv has wrong versions (got, want): {bad}")
    return got


def fetch_wheel(work: Path, wheel_arg: str | None) -> Path:
    if wheel_arg:
        wheel = Path(wheel_arg)
    else:
        dl = work / "wheel"
        dl.mkdir(parents=True, exist_ok=True)
        wheel = dl / WHEEL_FILENAME
        if not wheel.exists():
            run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 f"{SOURCE_PACKAGE}=={SOURCE_VERSION}", "-d", str(dl)] + WHEEL_PLATFORM_ARGS)
    if wheel.name != WHEEL_FILENAME:
        sys.exit(f"unexpected wheel {wheel.name}, want {WHEEL_FILENAME}")
    digest = sha256_file(wheel)
    if digest != WHEEL_SHA256:
        sys.exit(f"wheel sha256 mismatch: {digest} != {WHEEL_SHA256}")
    log(f"wheel ok: {wheel.name} sha256={digest}")
    return wheel


def extract_tflite(wheel: Path, work: Path) -> dict[str, Path]:
    out = {}
    src_dir = work / "tflite"
    src_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for m in MODELS:
            dst = src_dir / Path(m["source_path"]).name
            dst.write_bytes(zf.read(m["source_path"]))
            digest = sha256_file(dst)
            if digest != m["source_sha256"]:
                sys.exit(f"{m['source_path']}: sha256 {digest} != pinned {m['source_sha256']}")
            out[m["name"]] = dst
    return out


def convert(src: Path, dst: Path) -> None:
    run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(src), "--output", str(dst),
         "--opset", str(OPSET)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


# ---- graph edits ---------------------------------------------------------------------------
_ROLES = {
    "Conv": {1: "weight", 2: "bias"},
    "PRelu": {1: "slope"},
    "Reshape": {1: "shape"},
    "Pad": {1: "pads", 2: "value"},
}


def _drop_unused_initializers(graph) -> None:
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _canonical_node_order(graph) -> None:
    """Deterministic topological order: post-order DFS from the graph outputs (in output order),
    visiting each node's inputs in input order. tf2onnx's own order varies from run to run."""
    producer = {o: n for n in graph.node for o in n.output}
    order, done = [], set()
    for out in graph.output:
        if out.name not in producer:
            continue
        stack = [(producer[out.name], False)]
        while stack:
            node, expanded = stack.pop()
            key = id(node)
            if key in done:
                continue
            if expanded:
                done.add(key)
                order.append(node)
                continue
            stack.append((node, True))
            for inp in reversed(node.input):
                p = producer.get(inp)
                if p is not None and id(p) not in done:
                    stack.append((p, False))
    nodes = [type(graph.node[0])() for _ in order]
    for dst, src in zip(nodes, order):
        dst.CopyFrom(src)
    del graph.node[:]
    graph.node.extend(nodes)


def pp_canonical_initializers(model) -> None:
    g = model.graph
    _canonical_node_order(g)
    # Canonical node / intermediate tensor names (graph input and output names are kept):
    # tf2onnx merges duplicate nodes and which name survives varies from run to run.
    keep_names = {o.name for o in g.output} | {i.name for i in g.input}
    tensor_rename: dict[str, str] = {}
    per_type: dict[str, int] = {}
    for n in g.node:
        k = per_type.get(n.op_type, 0)
        per_type[n.op_type] = k + 1
        n.name = f"{n.op_type}_{k}"
        for j, o in enumerate(n.output):
            if o not in keep_names:
                tensor_rename[o] = n.name if len(n.output) == 1 else f"{n.name}:{j}"
    for n in g.node:
        for j, o in enumerate(n.output):
            n.output[j] = tensor_rename.get(o, o)
        for j, i in enumerate(n.input):
            n.input[j] = tensor_rename.get(i, i)
    _drop_unused_initializers(g)
    inits = {t.name: t for t in g.initializer}
    taken = {o for n in g.node for o in n.output} | {i.name for i in g.input}
    rename: dict[str, str] = {}
    for n in g.node:
        for idx, inp in enumerate(n.input):
            if inp in inits and inp not in rename:
                base = f"{n.name}/{_ROLES.get(n.op_type, {}).get(idx, f'in{idx}')}"
                new, k = base, 1
                while new in taken:
                    k += 1
                    new = f"{base}_{k}"
                taken.add(new)
                rename[inp] = new
    for n in g.node:
        for idx, inp in enumerate(n.input):
            if inp in rename:
                n.input[idx] = rename[inp]
    ordered = []
    for old, new in rename.items():
        t = inits[old]
        t.name = new
        ordered.append(t)
    del g.initializer[:]
    g.initializer.extend(ordered)
    del g.value_info[:]
    used_domains = {n.domain for n in g.node}
    keep = [o for o in model.opset_import if o.domain in ("", "ai.onnx") or o.domain in used_domains]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def pp_prelu_decompose(model) -> None:
    import numpy as np
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    new_nodes, new_inits = [], []
    count = 0
    for n in g.node:
        if n.op_type != "PRelu":
            new_nodes.append(n)
            continue
        x, a_name = n.input
        y = n.output[0]
        a = numpy_helper.to_array(inits[a_name]).astype(np.float32)
        if a.ndim not in (3, 4) or a.size != a.shape[-3] or a.shape[-3] < 1:
            raise RuntimeError(f"{n.name}: unsupported PRelu slope shape {a.shape}")
        c = a.size
        p = n.name
        w_neg = numpy_helper.from_array(-np.ones((c, 1, 1, 1), np.float32), f"{p}/negate/weight")
        w_slope = numpy_helper.from_array((-a.reshape(c, 1, 1, 1)).astype(np.float32),
                                          f"{p}/slope/weight")
        new_inits += [w_neg, w_slope]
        conv = dict(group=c, kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0],
                    dilations=[1, 1])
        new_nodes += [
            helper.make_node("Relu", [x], [f"{p}/pos"], name=f"{p}/relu_pos"),
            helper.make_node("Conv", [x, w_neg.name], [f"{p}/negx"], name=f"{p}/negate", **conv),
            helper.make_node("Relu", [f"{p}/negx"], [f"{p}/relu_negx"], name=f"{p}/relu_neg"),
            helper.make_node("Conv", [f"{p}/relu_negx", w_slope.name], [f"{p}/neg"],
                             name=f"{p}/slope", **conv),
            helper.make_node("Add", [f"{p}/pos", f"{p}/neg"], [y], name=f"{p}/add"),
        ]
        count += 1
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(new_inits)
    _drop_unused_initializers(g)
    log(f"  prelu-decompose: {count} PRelu nodes replaced")


def pp_dynamic_batch(model) -> None:
    import numpy as np
    from onnx import numpy_helper

    g = model.graph
    for v in list(g.input) + list(g.output):
        d0 = v.type.tensor_type.shape.dim[0]
        if d0.dim_value not in (0, 1):
            raise RuntimeError(f"{v.name}: unexpected batch dim {d0}")
        d0.Clear()
        d0.dim_param = "batch"
    out_shapes = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.output}
    inits = {t.name: t for t in g.initializer}
    n_fixed = 0
    for n in g.node:
        if n.op_type != "Reshape":
            continue
        shape = numpy_helper.to_array(inits[n.input[1]])
        if shape[0] != 1:
            continue
        if n.output[0] not in out_shapes or len(shape) != 2:
            raise RuntimeError(f"{n.name}: Reshape {shape.tolist()} hard-codes batch 1; not handled")
        k = out_shapes[n.output[0]][1]
        fixed = numpy_helper.from_array(np.array([-1, k], np.int64), f"{n.name}/shape_dynamic")
        g.initializer.append(fixed)
        n.input[1] = fixed.name
        n_fixed += 1
    del g.value_info[:]
    _drop_unused_initializers(g)
    log(f"  dynamic-batch: {n_fixed} Reshape shape constants rewritten")


PP_FUNCS = {
    "canonical-initializers": pp_canonical_initializers,
    "prelu-decompose": pp_prelu_decompose,
    "dynamic-batch": pp_dynamic_batch,
}


def postprocess(raw: Path, dst: Path, spec: dict) -> None:
    import onnx

    model = onnx.load(str(raw))
    for step in spec["postprocess"]:  # applied in the listed order
        PP_FUNCS[step](model)
    model.graph.doc_string = spec["description"]
    del model.metadata_props[:]
    meta = {
        "source": f"{SOURCE_PACKAGE}=={SOURCE_VERSION} ({SOURCE_INDEX}) {spec['source_path']}",
        "source_sha256": spec["source_sha256"],
        "licence": LICENCE,
        "converter": f"tf2onnx=={CONVERTER_PINS['tf2onnx']} "
                     f"tensorflow-cpu=={CONVERTER_PINS['tensorflow-cpu']} opset {OPSET}",
        "postprocess": ",".join(spec["postprocess"]),
        "generator": "tools/build_models.py",
    }
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(dst))


# ---- verification --------------------------------------------------------------------------
def _real_inputs(raw_paths: dict[str, Path]) -> dict:
    """Real face/eye crops from scikit-image's astronaut (bundled with the package)."""
    import numpy as np
    import onnxruntime as ort
    from skimage import data, transform

    img = data.astronaut().astype(np.float32) / 255.0  # 512x512 RGB
    det = transform.resize(img, (128, 128), order=1, anti_aliasing=True) * 2.0 - 1.0
    face = img[10:230, 115:335]  # 220x220 square around the face
    face192 = transform.resize(face, (192, 192), order=1, anti_aliasing=True)
    sess = ort.InferenceSession(str(raw_paths["face_landmark"]), providers=["CPUExecutionProvider"])
    lm = sess.run(None, {"input_1": face192[None].astype(np.float32)})[0].reshape(468, 3)
    eyes = []
    for a, b, flip in ((33, 133, False), (362, 263, True)):
        cx, cy = (lm[a, :2] + lm[b, :2]) / 2.0 * (220 / 192)
        half = max(4.0, 1.15 * abs(lm[a, 0] - lm[b, 0]) * (220 / 192))
        r0, c0 = int(round(10 + cy - half)), int(round(115 + cx - half))
        side = int(round(2 * half))
        crop = transform.resize(img[r0:r0 + side, c0:c0 + side], (64, 64), order=1,
                                anti_aliasing=True)
        eyes.append(crop[:, ::-1] if flip else crop)
    return {
        "face_detection_short_range": det[None].astype(np.float32),
        "face_landmark": face192[None].astype(np.float32),
        "iris_landmark": np.stack(eyes).astype(np.float32),
    }


def verify(tflite: dict[str, Path], raw: dict[str, Path], final: dict[str, Path]) -> dict:
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    inputs = _real_inputs(raw)
    report = {}

    def ort_run(path, x, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = level
        s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return s.run(None, {s.get_inputs()[0].name: x})

    for m in MODELS:
        name = m["name"]
        x = inputs[name]
        per = [x[i:i + 1] for i in range(x.shape[0])]
        # TFLite reference (the interpreter is batch 1)
        interp = tf.lite.Interpreter(model_path=str(tflite[name]))
        interp.allocate_tensors()
        in_det = interp.get_input_details()[0]
        out_det = {d["name"]: d for d in interp.get_output_details()}
        ref = []
        for xi in per:
            interp.set_tensor(in_det["index"], xi)
            interp.invoke()
            ref.append([interp.get_tensor(out_det[o["name"]]["index"]) for o in m["outputs"]])
        raw_out = [ort_run(raw[name], xi) for xi in per]
        d_tfl = max(float(np.abs(np.asarray(r).reshape(-1) - np.asarray(t).reshape(-1)).max())
                    for rr, tt in zip(raw_out, ref) for r, t in zip(rr, tt))
        fin_single = [ort_run(final[name], xi) for xi in per]
        d_pp = max(float(np.abs(f - r).max())
                   for ff, rr in zip(fin_single, raw_out) for f, r in zip(ff, rr))
        # Without ORT's graph rewrites (NCHWc blocking, fusions) the math must be bit-identical.
        off = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        d_pp_off = max(float(np.abs(f - r).max())
                       for xi in per
                       for f, r in zip(ort_run(final[name], xi, off), ort_run(raw[name], xi, off)))
        entry = {"tflite_vs_straight_onnx": d_tfl,
                 "postprocessed_vs_straight_onnx_ort_disable_all": d_pp_off,
                 "postprocessed_vs_straight_onnx": d_pp,
                 "max_abs_output": max(float(np.abs(r).max()) for rr in raw_out for r in rr),
                 "input": {"face_detection_short_range": "astronaut resized to 128x128",
                           "face_landmark": "astronaut[10:230, 115:335] resized to 192x192",
                           "iris_landmark": "both eyes cropped around landmark eye corners "
                                            "(33/133, 362/263), resized to 64x64, 2nd flipped"}[name]}
        if len(per) > 1:
            batched = ort_run(final[name], x)
            entry["batch%d_vs_batch1" % len(per)] = max(
                float(np.abs(b[i] - fin_single[i][j][0]).max())
                for j, b in enumerate(batched) for i in range(len(per)))
        # sanity: the crop really is a face
        if name == "face_detection_short_range":
            entry["max_face_score"] = float(1 / (1 + np.exp(-raw_out[0][1].max())))
        if name == "face_landmark":
            entry["face_presence"] = float(1 / (1 + np.exp(-raw_out[0][1].reshape(-1)[0])))
        report[name] = entry
        log(f"  verify {name}: {entry}")
        if d_pp > 1e-4 or d_pp_off > 1e-6 or d_tfl > 1e-2 or \
                entry.get("batch2_vs_batch1", 0.0) > 1e-4:
            raise SystemExit(f"verification failed for {name}: {entry}")
    if report["face_detection_short_range"]["max_face_score"] < 0.5 or \
            report["face_landmark"]["face_presence"] < 0.5:
        raise SystemExit(f"verification input is not recognised as a face: {report}")
    return report


# ---- manifest / docs -----------------------------------------------------------------------
def manifest_data(out_dir: Path, versions: dict) -> dict:
    models = []
    for m in MODELS:
        models.append({
            "name": m["name"],
            "file": m["file"],
            "sha256": sha256_file(out_dir / m["file"]),
            "source_package": SOURCE_PACKAGE,
            "source_version": SOURCE_VERSION,
            "source_index": SOURCE_INDEX,
            "source_wheel": WHEEL_FILENAME,
            "source_wheel_sha256": WHEEL_SHA256,
            "source_path": m["source_path"],
            "source_sha256": m["source_sha256"],
            "licence": LICENCE,
            "opset": OPSET,
            "conversion": CONVERT_CMD.format(src=Path(m["source_path"]).name, dst=m["file"]),
            "postprocess": m["postprocess"],
            "inputs": m["inputs"],
            "outputs": m["outputs"],
        })
        models.append(tflite_entry(m, out_dir, models[-1]))
    return {
        "generator": "tools/build_models.py",
        "converter_versions": {k: versions[k] for k in CONVERTER_PINS},
        "models": models,
    }


def tflite_entry(m: dict, out_dir: Path, onnx_entry: dict) -> dict:
    """The wheel's own TFLite file, copied unchanged, for the LiteRT runner.

    Same tensors as the ONNX file except the iris model's batch, which LiteRT sets by
    resizing the input (its output Reshape keeps batch 1, so the runner splits the rows).
    """
    file = Path(m["source_path"]).name
    return onnx_entry | {
        "file": file,
        "sha256": sha256_file(out_dir / file),
        "opset": None,
        "conversion": "none: the file as shipped in the wheel",
        "postprocess": [],
    }


def _shape(s) -> str:
    return "[" + ", ".join(str(d) for d in s) + "]"


def render_md(man: dict, verification: dict) -> str:
    cv = man["converter_versions"]
    L = [
        "# Face models",
        "",
        "<!-- Generated by tools/build_models.py from the same data as manifest.json. "
        "Do not edit by hand. -->",
        "",
        "ONNX conversions of MediaPipe's face detection, face mesh and iris TFLite models "
        f"(licence {LICENCE}), taken from the PyPI wheel `{SOURCE_PACKAGE}=={SOURCE_VERSION}`, "
        "and the three TFLite files themselves, unchanged, which LiteRT (`ai-edge-litert`, XNNPACK) "
        "runs where `inference.cpu_runtime` says `litert`.",
        "",
        "Rebuild (needs PyPI; creates a throwaway venv under /tmp with TensorFlow, a large download):",
        "",
        "```sh",
        "python3 tools/build_models.py            # or: --venv /tmp/dm-tf2onnx-venv to keep/reuse it",
        "python3 tools/bench_models.py            # latency table",
        "```",
        "",
        "## Source",
        "",
        f"- Package: `{SOURCE_PACKAGE}` version `{SOURCE_VERSION}` from {SOURCE_INDEX} "
        f"(`pip download {SOURCE_PACKAGE}=={SOURCE_VERSION} --no-deps "
        + " ".join(WHEEL_PLATFORM_ARGS) + "`)",
        f"- Wheel: `{WHEEL_FILENAME}`",
        f"- Wheel sha256: `{WHEEL_SHA256}`",
        f"- Licence: {LICENCE} (MediaPipe models and code)",
        "",
        "## Conversion",
        "",
        "- Command: `" + CONVERT_CMD.format(src="<model>.tflite", dst="<model>.onnx") + "`",
        "- Converter versions: " + ", ".join(f"{k}=={v}" for k, v in cv.items()),
        "- tf2onnx keeps TFLite's NHWC input layout and inserts one input Transpose to NCHW; "
        "outputs keep TFLite's shapes.",
        "- Output: plain ONNX, opset %d, float32, no ORT-specific ops or layouts "
        "(portable to TensorRT / CUDA EP)." % OPSET,
        "",
        "### Post-processing steps (onnx package, deterministic)",
        "",
    ]
    for k, v in PP_DESCRIPTIONS.items():
        L.append(f"- `{k}`: {v}")
    L += [""]
    for m in man["models"]:
        L += [
            f"## {m['name']}",
            "",
            f"- File: `{m['file']}`",
            f"- sha256: `{m['sha256']}`",
            f"- Source: `{m['source_package']}=={m['source_version']}` ({m['source_index']}), "
            f"wheel `{m['source_wheel']}`, path `{m['source_path']}`",
            f"- Source sha256: `{m['source_sha256']}`",
            f"- Licence: {m['licence']}",
            f"- Conversion: `{m['conversion']}`",
            "- Post-processing: " + (", ".join(f"`{p}`" for p in m["postprocess"]) or "none"),
            "",
            "| tensor | name | shape | dtype | layout / range / meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for i in m["inputs"]:
            L.append(f"| input | `{i['name']}` | {_shape(i['shape'])} | {i['dtype']} | "
                     f"{i['layout']}; {i['range']} |")
        for o in m["outputs"]:
            L.append(f"| output | `{o['name']}` | {_shape(o['shape'])} | {o['dtype']} | "
                     f"{o['meaning']} |")
        v = verification.get(m["name"]) if m["file"].endswith(".onnx") else None
        if v:
            L += ["", "Verification at build time (" + v["input"] + "; max abs diff):", ""]
            L.append(f"- TFLite interpreter vs straight tf2onnx conversion (onnxruntime): "
                     f"{v['tflite_vs_straight_onnx']:.1e}")
            L.append(f"- post-processed vs straight conversion, onnxruntime ORT_DISABLE_ALL: "
                     f"{v['postprocessed_vs_straight_onnx_ort_disable_all']:.1e}")
            line = (f"- post-processed vs straight conversion, onnxruntime ORT_ENABLE_ALL: "
                    f"{v['postprocessed_vs_straight_onnx']:.1e}")
            if v["postprocessed_vs_straight_onnx"] > 0:
                line += (" (float rounding: ORT blocks/fuses the rewritten graph differently; "
                         f"largest output magnitude {v['max_abs_output']:.0f})")
            L.append(line)
            if "batch2_vs_batch1" in v:
                L.append(f"- batch-2 call vs two batch-1 calls: {v['batch2_vs_batch1']:.1e}")
        L.append("")
    L += [
        "## Notes",
        "",
        "- `manifest.json` holds the same data machine-readably; "
        "`tests/test_models_manifest.py` checks the hashes and shapes.",
        "- Not committed on purpose: ORT-optimised (`.ort` / NCHWc) graphs, which would not be "
        "portable. Session options are chosen at load time instead "
        "(`ORT_ENABLE_ALL`; see `tools/bench_models.py`).",
        "",
    ]
    return "\n".join(L)


def inner_main(args: argparse.Namespace) -> int:
    versions = check_versions()
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = None
    if args.work_dir:
        work = Path(args.work_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = work = Path(tempfile.mkdtemp(prefix="dm-build-models-"))
    try:
        wheel = fetch_wheel(work, args.wheel)
        tflite = extract_tflite(wheel, work)
        raw, final = {}, {}
        (work / "straight").mkdir(exist_ok=True)
        (work / "final").mkdir(exist_ok=True)
        for m in MODELS:
            raw[m["name"]] = work / "straight" / m["file"]
            convert(tflite[m["name"]], raw[m["name"]])
            final[m["name"]] = work / "final" / m["file"]
            log(f"post-process {m['name']}: {m['postprocess']}")
            postprocess(raw[m["name"]], final[m["name"]], m)
        log("verifying")
        verification = verify(tflite, raw, final)
        for m in MODELS:
            shutil.copyfile(final[m["name"]], out_dir / m["file"])
            shutil.copyfile(tflite[m["name"]], out_dir / tflite[m["name"]].name)
        man = manifest_data(out_dir, versions)
        (out_dir / "manifest.json").write_text(json.dumps(man, indent=2) + "\n")
        (out_dir / "MODELS.md").write_text(render_md(man, verification))
        for m in man["models"]:
            log(f"wrote {out_dir / m['file']} sha256={m['sha256']}")
        log(f"wrote {out_dir / 'manifest.json'} and {out_dir / 'MODELS.md'}")
        if args.work_dir:
            log(f"straight conversions kept in {work / 'straight'}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", help="virtualenv path to create or reuse (outside the repo); "
                                   "default: a temporary one under /tmp, deleted afterwards")
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT), help="default: models/")
    ap.add_argument("--wheel", help="use this local mediapipe wheel instead of pip download "
                                    "(must be the pinned file, checked by sha256)")
    ap.add_argument("--work-dir", help="keep intermediate files (wheel, tflite, straight "
                                       "conversions) here; default: a temporary dir")
    ap.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    return inner_main(args) if args.in_venv else outer_main(args)


if __name__ == "__main__":
    sys.exit(main())
