"""The CUDA kernels compile for the Jetson and the H100, and their arithmetic is the CPU renderer's.

kernels/raster.cu also builds as plain C++ (-DRASTER_HOST), running the same
per-triangle and per-pixel functions in loops; that build must give the CPU
renderer's bytes exactly. What only a GPU can show (atomics, timing) is left
to the device check.
"""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dmask.draw import materials
from dmask.draw.cpu import CpuRenderer
from dmask.draw.cuda import COMPILE_OPTIONS
from dmask.draw.mesh import Material, RenderMesh
from support import eye_params, mask_params, missing, rotation

KERNEL = Path(__file__).resolve().parents[1] / "kernels" / "raster.cu"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not found on PATH; it compiles kernels/raster.cu")
    return path


@pytest.mark.parametrize("arch", ["sm_87", "sm_90"])
def test_kernels_compile_to_ptx(tmp_path, arch):
    nvcc = require_tool("nvcc")
    ptx = tmp_path / f"raster_{arch}.ptx"
    result = subprocess.run([nvcc, "--ptx", f"-arch={arch}", "--fmad=false", "-o", str(ptx), str(KERNEL)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = ptx.read_text()
    for kernel in ("clear_keys", "rasterize", "shade"):
        assert f".entry {kernel}(" in text
    assert "fma.rn.f32" not in text


def nvrtc_library() -> ctypes.CDLL:
    """libnvrtc from the nvidia-cuda-nvrtc wheel (a dev dependency)."""
    spec = importlib.util.find_spec("nvidia")
    found = [p for root in (spec.submodule_search_locations if spec else []) for p in Path(root).glob("*/lib/libnvrtc.so*")]
    if not found:
        missing("libnvrtc not found; pip install -e '.[dev]' brings nvidia-cuda-nvrtc")
    return ctypes.CDLL(str(found[0]))


@pytest.mark.parametrize("arch", ["compute_87", "compute_90"])
def test_kernels_compile_with_nvrtc_as_cupy_does(arch):
    nvrtc = nvrtc_library()
    program = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), KERNEL.read_bytes(), b"raster.cu", 0, None, None) == 0
    options = [opt.encode() for opt in (*COMPILE_OPTIONS, f"--gpu-architecture={arch}")]
    status = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    assert status == 0, log.value.decode()


@pytest.fixture(scope="module")
def host_render(tmp_path_factory):
    gxx = require_tool("g++")
    library = tmp_path_factory.mktemp("kernels") / "raster_host.so"
    subprocess.run([gxx, "-x", "c++", "-DRASTER_HOST", "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-o", str(library), str(KERNEL)], check=True)
    render = ctypes.CDLL(str(library)).host_render
    render.restype = None
    return render


def run_host(render, mesh: RenderMesh, height: int, width: int, background=(96, 96, 96), cull_back=True) -> np.ndarray:
    arrays = [
        np.ascontiguousarray(mesh.positions, np.float32),
        np.ascontiguousarray(mesh.normals, np.float32),
        np.ascontiguousarray(mesh.uv, np.float32),
        np.ascontiguousarray(mesh.triangles, np.int32),
        np.ascontiguousarray(mesh.materials, np.uint8),
    ]
    texture = np.ascontiguousarray(mesh.texture, np.float32)
    bg = np.array(background, np.uint8)
    keys = np.empty(height * width, np.uint64)
    out = np.empty((height, width, 3), np.uint8)
    pointer = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    render(
        *map(pointer, arrays),
        ctypes.c_int(len(mesh.positions)),
        ctypes.c_int(len(mesh.triangles)),
        pointer(np.ascontiguousarray(materials.MATERIAL_TABLE)),
        ctypes.c_int(len(materials.MATERIAL_TABLE)),
        pointer(texture),
        ctypes.c_int(texture.shape[1]),
        ctypes.c_int(texture.shape[0]),
        pointer(np.ascontiguousarray(materials.SHADING_CONSTANTS)),
        pointer(bg),
        ctypes.c_int(int(cull_back)),
        ctypes.c_int(width),
        ctypes.c_int(height),
        pointer(keys),
        pointer(out),
    )
    return out


def random_mesh(seed: int, n_triangles: int, width: int, height: int) -> RenderMesh:
    rng = np.random.default_rng(seed)
    n = 3 * n_triangles
    positions = np.column_stack([rng.uniform(-5, width + 5, n), rng.uniform(-5, height + 5, n), rng.uniform(-50, 50, n)])
    positions[::7, :2] = np.round(positions[::7, :2] * 2) / 2  # vertices on pixel centres and edges
    normals = rng.normal(size=(n, 3))
    return RenderMesh(
        positions=positions.astype(np.float32),
        normals=(normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32),
        uv=rng.uniform(-2, 12, (n, 2)).astype(np.float32),  # past both edges of the texture too
        triangles=rng.integers(0, n, (n_triangles, 3)).astype(np.int32),
        materials=rng.integers(0, len(Material), n_triangles).astype(np.uint8),
        texture=rng.uniform(0, 255, (7, 10, 3)).astype(np.float32),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_host_build_matches_the_cpu_renderer_on_random_meshes(host_render, seed):
    mesh = random_mesh(seed, 300, 96, 64)
    expected = CpuRenderer().render(mesh, 64, 96)
    np.testing.assert_array_equal(run_host(host_render, mesh, 64, 96), expected)


def test_host_build_matches_the_cpu_renderer_on_the_avatar(host_render, models):
    avatar = models.avatar
    eye = eye_params(np.degrees(0.2), np.degrees(-0.1), 0.12, 0.1)
    params = mask_params(
        rotation=rotation(-np.degrees(0.3), 0, 0), translation=np.array([640, 360, 0], np.float32),
        scale=300.0, right_eye=eye, left_eye=eye, action_units=avatar.action_unit_rest,
    )
    mesh = models.rig.mesh(params)
    expected = CpuRenderer().render(mesh, 720, 1280)
    assert (expected != 96).any(axis=2).mean() > 0.05
    np.testing.assert_array_equal(run_host(host_render, mesh, 720, 1280), expected)
