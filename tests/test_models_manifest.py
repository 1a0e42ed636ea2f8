"""The committed ONNX models match models/manifest.json (hashes, provenance, shapes).

Regenerate models and manifest with ``python3 tools/build_models.py``.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dmask.capture.media import sha256_file

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MANIFEST = MODELS_DIR / "manifest.json"
MODEL_SUFFIXES = (".onnx", ".tflite", ".ort", ".pb", ".engine", ".trt", ".plan")
REQUIRED_KEYS = {"file", "sha256", "source_package", "source_version", "source_path",
                 "source_sha256", "licence"}
BATCH_FOR_DYNAMIC = 2  # iris runs both eyes in one call


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def manifest_problems(manifest: dict, models_dir: Path) -> list[str]:
    """Everything wrong between a manifest and a models directory (empty list = consistent)."""
    problems = []
    entries = manifest.get("models", [])
    if not entries:
        problems.append("manifest lists no models")
    files = [e.get("file") for e in entries]
    if len(set(files)) != len(files):
        problems.append(f"duplicate files in manifest: {files}")
    for e in entries:
        missing = REQUIRED_KEYS - set(e)
        if missing:
            problems.append(f"{e.get('file')}: missing keys {sorted(missing)}")
            continue
        path = models_dir / e["file"]
        if not path.is_file():
            problems.append(f"{e['file']}: listed in manifest but not in {models_dir}")
            continue
        digest = sha256_file(path)
        if digest != e["sha256"]:
            problems.append(f"{e['file']}: sha256 {digest} != manifest {e['sha256']}")
        for key in ("sha256", "source_sha256"):
            v = e[key]
            if not (isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
                problems.append(f"{e['file']}: {key} is not a sha256 hex digest: {v!r}")
    listed = set(files)
    for path in sorted(models_dir.iterdir()):
        if path.suffix in MODEL_SUFFIXES and path.name not in listed:
            problems.append(f"{path.name}: model file not in manifest")
    return problems


def test_manifest_matches_committed_files():
    assert manifest_problems(load_manifest(), MODELS_DIR) == []


def test_manifest_provenance():
    for e in load_manifest()["models"]:
        assert e["source_package"] == "mediapipe"
        assert e["source_version"] == "0.10.14"
        assert e["licence"] == "Apache-2.0"
        assert e["source_path"].startswith("mediapipe/modules/") and \
            e["source_path"].endswith(".tflite")
        # An ONNX conversion, or the wheel's TFLite file itself (for LiteRT), unchanged.
        assert e["file"].endswith(".onnx") or (e["file"] == Path(e["source_path"]).name and e["sha256"] == e["source_sha256"])


def test_models_md_lists_every_model_and_hash():
    md = (MODELS_DIR / "MODELS.md").read_text()
    for e in load_manifest()["models"]:
        for v in (e["file"], e["sha256"], e["source_path"], e["source_sha256"],
                  e["source_version"], e["licence"]):
            assert v in md, f"MODELS.md does not mention {v}"


def test_check_detects_wrong_hash(tmp_path):
    """The hash check can fail: a tampered hash, an unlisted model file, a missing file."""
    man = load_manifest()
    bad = copy.deepcopy(man)
    bad["models"][0]["sha256"] = "0" * 64
    assert any("sha256" in p for p in manifest_problems(bad, MODELS_DIR))

    extra_dir = tmp_path / "models"
    extra_dir.mkdir()
    for e in man["models"]:
        (extra_dir / e["file"]).symlink_to(MODELS_DIR / e["file"])
    assert manifest_problems(man, extra_dir) == []
    (extra_dir / "stray.onnx").write_bytes(b"not a model")
    assert any("stray.onnx" in p for p in manifest_problems(man, extra_dir))
    (extra_dir / man["models"][1]["file"]).unlink()
    assert any("not in" in p for p in manifest_problems(man, extra_dir))


def _concrete(shape, batch):
    return [d if isinstance(d, int) else batch for d in shape]


@pytest.mark.parametrize("name", [e["name"] for e in load_manifest()["models"]])
def test_model_runs_with_documented_shapes(name):
    import numpy as np
    import onnxruntime as ort

    spec = next(e for e in load_manifest()["models"] if e["name"] == name)
    sess = ort.InferenceSession(str(MODELS_DIR / spec["file"]),
                                providers=["CPUExecutionProvider"])
    ins, outs = sess.get_inputs(), sess.get_outputs()
    assert [i.name for i in ins] == [i["name"] for i in spec["inputs"]]
    assert [o.name for o in outs] == [o["name"] for o in spec["outputs"]]
    for got, want in zip(ins, spec["inputs"]):
        assert list(got.shape) == want["shape"]
        assert got.type == "tensor(float)" and want["dtype"] == "float32"
    for got, want in zip(outs, spec["outputs"]):
        assert list(got.shape) == want["shape"]

    dynamic = any(not isinstance(d, int) for d in spec["inputs"][0]["shape"])
    batches = [1, BATCH_FOR_DYNAMIC] if dynamic else [1]
    rng = np.random.default_rng(0)
    results = {}
    for b in batches:
        x = rng.uniform(0.0, 1.0, _concrete(spec["inputs"][0]["shape"], b)).astype(np.float32)
        if b == BATCH_FOR_DYNAMIC:
            x[0] = results[1][0][0]  # first item equals the batch-1 input
        res = sess.run(None, {spec["inputs"][0]["name"]: x})
        for arr, want in zip(res, spec["outputs"]):
            assert list(arr.shape) == _concrete(want["shape"], b)
            assert arr.dtype == np.float32
            assert np.isfinite(arr).all()
        results[b] = (x, res)
    if dynamic:
        # batching must not mix items: item 0 of the batch equals the batch-1 result
        for single, batched in zip(results[1][1], results[BATCH_FOR_DYNAMIC][1]):
            np.testing.assert_allclose(batched[0], single[0], rtol=0, atol=1e-4)
