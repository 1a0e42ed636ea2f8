#!/usr/bin/env python3
"""Derive the identity-free avatar (models/avatar.npz) and its provenance.

The avatar is the mean of many people's pose-normalised face meshes, as the
landmark model itself outputs them, so it belongs to nobody:

1. Every photo under the given identity folders (DIR/<identity>/<photo>) goes
   through dmask's own detector and face mesh (still mode); the largest face
   is kept. Small photos are upsampled first.
2. Each identity's photos are aligned (similarity Procrustes) and reduced to
   their per-vertex median, so a person with ten photos counts once.
3. The identities are aligned to each other (generalised Procrustes) and
   averaged; the mean is put in the canonical frame (outer eye corners 1.0
   apart on the x axis, y down, z away from the camera). Their spread per
   vertex is the population SD that scales the fit's dead zone.
4. Rigid vertices (for pose) are the ones that move least between photos of
   the same person. Triangles come from MediaPipe's face-mesh tessellation
   (edges listed in the mediapipe wheel, triangles recovered as the mesh's
   3-cliques), with the eye openings and the mouth opened as holes.

Usage: python tools/build_avatar.py ../shared/data/identities ../shared/data/identities_orl
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.avatar import Avatar  # noqa: E402
from edge.config import load_config  # noqa: E402
from edge.fit import fit_similarity, measure_eye  # noqa: E402
from edge.media import PHOTO_SUFFIXES, read_photo  # noqa: E402
from edge.mesh_index import (  # noqa: E402
    LEFT_BROW,
    LEFT_EYE_OUTER,
    LEFT_LID_RING,
    LEFT_LIDS,
    LIPS_INNER,
    LIPS_OUTER,
    NOSE_TIP,
    RIGHT_BROW,
    RIGHT_EYE_OUTER,
    RIGHT_LID_RING,
    RIGHT_LIDS,
    SUBNASALE,
)
from edge.models import InferenceModels  # noqa: E402
from edge.tracking import FaceTracker  # noqa: E402

MEDIAPIPE = "mediapipe==0.10.14"
TESSELATION_PATH = "mediapipe/python/solutions/face_mesh_connections.py"
MIN_PHOTO_SIDE = 256
RIGID_FRACTION = 0.3
BROW_FEATHER = 0.12  # canonical units around the brow vertices
EXPRESSION_COMPONENTS = 16


def mediapipe_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("mediapipe-0.10.14-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
             "--platform", "manylinux_2_17_x86_64", "-d", str(cache), MEDIAPIPE],
            check=True,
        )
        wheels = sorted(cache.glob("mediapipe-0.10.14-*.whl"))
    return wheels[0]


def tessellation_triangles(wheel: Path) -> np.ndarray:
    """Triangles of MediaPipe's face mesh.

    The source lists FACEMESH_TESSELATION as edges three by three, one
    triangle each ((a, b), (b, c), (c, a)), all wound the same way round; the
    order is read from the source text, since the frozenset it builds forgets it.
    """
    source = zipfile.ZipFile(wheel).read(TESSELATION_PATH).decode()
    node = next(
        n.value for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "FACEMESH_TESSELATION"
    )
    edges = ast.literal_eval(node.args[0])
    return np.array([(edges[i][0], edges[i][1], edges[i + 1][1]) for i in range(0, len(edges), 3)], np.int32)


def identity_photos(roots: list[Path]) -> dict[str, list[Path]]:
    photos = {}
    for root in roots:
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
            if files:
                photos[f"{root.name}/{folder.name}"] = files
    return photos


def observe(tracker: FaceTracker, path: Path):
    image = read_photo(path)
    factor = max(1.0, MIN_PHOTO_SIDE / min(image.shape[:2]))
    if factor > 1:
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    faces = tracker.observe(image).faces
    return faces[0] if faces else None


def align(shapes: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = []
    for shape in shapes:
        pose = fit_similarity(reference, shape, weights)
        out.append(pose.to_canonical(shape))
    return np.array(out)


def generalised_procrustes(shapes: np.ndarray, weights: np.ndarray, rounds: int = 5) -> np.ndarray:
    reference = shapes[0]
    for _ in range(rounds):
        aligned = align(shapes, reference, weights)
        reference = aligned.mean(0)
    return aligned


def canonical_frame(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin between the outer eye corners, x along them, y towards the mouth."""
    right, left = mean[RIGHT_EYE_OUTER], mean[LEFT_EYE_OUTER]
    x = (left - right) / np.linalg.norm(left - right)
    down = mean[LIPS_INNER].mean(0) - 0.5 * (left + right)
    y = down - (down @ x) * x
    y /= np.linalg.norm(y)
    basis = np.stack([x, y, np.cross(x, y)])
    return 0.5 * (left + right), basis / np.linalg.norm(left - right)


def inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) > 0 for x, y in points])


def open_holes(triangles: np.ndarray) -> np.ndarray:
    """Drop the triangles spanning the eye openings and the mouth."""
    holes = [set(RIGHT_LIDS), set(LEFT_LIDS), set(LIPS_INNER)]
    keep = [not any(set(t) <= hole for hole in holes) for t in triangles]
    return triangles[np.array(keep)]


def orient_inwards(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Keep the mesh's consistent winding, turned so (b - a) x (c - a) points into the head.

    Flipping triangles one by one would break the winding where the mean
    face folds (the lid creases); the whole mesh is turned or not, by majority.
    """
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    into_head = np.cross(b - a, c - a)[:, 2] > 0
    return triangles if into_head.mean() > 0.5 else triangles[:, [0, 2, 1]]


def expression_weights(vertices: np.ndarray, mirror: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower face below the nose (feathered over the nose) and the brows, left-right symmetric."""
    y = vertices[:, 1]
    lower = np.clip((y - y[NOSE_TIP]) / (y[SUBNASALE] - y[NOSE_TIP]), 0, 1)
    brows = np.concatenate([RIGHT_BROW, LEFT_BROW])
    distance = np.linalg.norm(vertices[:, None] - vertices[brows][None], axis=2).min(1)
    brow = np.clip(1 - distance / BROW_FEATHER, 0, 1)
    weight = np.maximum(lower, brow)
    weight[np.concatenate([RIGHT_LIDS, LEFT_LIDS, RIGHT_LID_RING, LEFT_LID_RING])] = 0
    weight = np.maximum(weight, weight[mirror])
    index = np.nonzero(weight > 0)[0].astype(np.int32)
    return index, weight[index].astype(np.float32)


def region_triangles(vertices: np.ndarray, triangles: np.ndarray, polygon_indices: list[np.ndarray]) -> np.ndarray:
    centroids = vertices[triangles].mean(1)[:, :2]
    hit = np.zeros(len(triangles), bool)
    for polygon in polygon_indices:
        hit |= inside(vertices[polygon, :2], centroids)
    return np.nonzero(hit)[0].astype(np.int32)


def brow_polygon(brow: np.ndarray) -> np.ndarray:
    return np.concatenate([brow[:5], brow[5:][::-1]])


def observe_identities(tracker: FaceTracker, roots: list[Path]):
    """Largest face of every photo, grouped by identity; and how many were found."""
    per_identity, found, total = {}, 0, 0
    for identity, paths in identity_photos(roots).items():
        faces = [f for f in (observe(tracker, p) for p in paths) if f is not None]
        total += len(paths)
        found += len(faces)
        if faces:
            per_identity[identity] = faces
    return per_identity, found, total


def shapes_of(faces) -> np.ndarray:
    return np.array([f.landmarks for f in faces], np.float64)


def mean_face(per_identity) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the identities' median shapes, in the canonical frame; and those shapes."""
    everything = np.ones(468)
    medians = [np.median(align(shapes_of(faces), shapes_of(faces)[0], everything), 0) for faces in per_identity.values()]
    aligned = generalised_procrustes(np.array(medians), everything)
    origin, basis = canonical_frame(aligned.mean(0))
    population = (aligned - origin) @ basis.T
    return population.mean(0), population


def rigid_vertices(per_identity, mean: np.ndarray) -> np.ndarray:
    """The vertices that move least between photos of the same person."""
    spread = [align(shapes_of(faces), mean, np.ones(468)).std(0).sum(1) for faces in per_identity.values() if len(faces) > 1]
    return np.argsort(np.mean(spread, 0))[: int(RIGID_FRACTION * 468)].astype(np.int32)


def eye_statistics(per_identity, mean: np.ndarray, rigid: np.ndarray):
    """Population mean and SD of (upper, lower) aperture, and the iris rest position per eye."""
    apertures, irises = [], []
    for faces in per_identity.values():
        per_photo = []
        for f in faces:
            pose = fit_similarity(mean[rigid], f.landmarks[rigid].astype(np.float64), np.ones(len(rigid)))
            z = f.landmarks[:, 2].astype(np.float64)
            r, l = measure_eye(f.right_eye, z[RIGHT_LIDS], pose), measure_eye(f.left_eye, z[LEFT_LIDS], pose)
            per_photo.append([(r.upper + l.upper) / 2, (r.lower + l.lower) / 2, r.iris_dx, r.iris_dy, l.iris_dx, l.iris_dy])
        medians = np.median(per_photo, 0)
        apertures.append(medians[:2])
        irises.append(medians[2:].reshape(2, 2))
    apertures = np.array(apertures)
    return apertures.mean(0), apertures.std(0), np.median(irises, 0)


def mirror_indices(mean: np.ndarray) -> np.ndarray:
    """For each vertex, its mirror image across the face's midline (x -> -x)."""
    flipped = mean * [-1, 1, 1]
    mirror = np.linalg.norm(flipped[:, None] - mean[None], axis=2).argmin(1)
    assert (mirror[mirror] == np.arange(468)).all(), "the mean face is not left-right symmetric enough"
    return mirror


def mirrored(deviations: np.ndarray, expression_vertices: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Deviations (N, K, 3) of the expression vertices, reflected left to right."""
    position = {v: k for k, v in enumerate(expression_vertices)}
    order = np.array([position[mirror[v]] for v in expression_vertices])
    return deviations[:, order] * [-1, 1, 1]


def expression_space(per_identity, mean, rigid_weights, expression_vertices, mirror, population):
    """Principal directions of how one person's face moves between photos.

    Within-person deviations (each photo minus that person's median shape),
    with their mirror images so that every movement exists on either side
    alone, are the expression space; a one-sided smile or droop is a
    combination of its components. Identity spread along each component (the
    SD of the people's median shapes), and per vertex outside the space,
    scales the fit's dead zones.
    """
    deviations = []
    for faces in per_identity.values():
        if len(faces) > 1:
            shapes = align(shapes_of(faces), mean, rigid_weights)[:, expression_vertices]
            deviations.append(shapes - np.median(shapes, 0))
    deviations = np.concatenate(deviations)
    deviations = np.concatenate([deviations, mirrored(deviations, expression_vertices, mirror)])
    _, singular, vt = np.linalg.svd(deviations.reshape(len(deviations), -1), full_matrices=False)
    basis = vt[:EXPRESSION_COMPONENTS]
    explained = float((singular[:EXPRESSION_COMPONENTS] ** 2).sum() / (singular**2).sum())
    offsets = (population - mean)[:, expression_vertices].reshape(len(population), -1)
    identity = offsets @ basis.T
    residual = (offsets - identity @ basis).reshape(len(population), -1, 3)
    return basis.reshape(EXPRESSION_COMPONENTS, -1, 3), identity.std(0), residual.std(0), explained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="folders of DIR/<identity>/<photo>")
    parser.add_argument("--wheel-cache", type=Path, default=Path("/tmp/dmask-wheels"))
    parser.add_argument("--out", type=Path, default=REPO / "models")
    args = parser.parse_args()

    wheel = mediapipe_wheel(args.wheel_cache)
    triangles = tessellation_triangles(wheel)
    config = load_config(None)
    tracker = InferenceModels.load(config).tracker(config, still=True)

    per_identity, found, total = observe_identities(tracker, args.roots)
    print(f"faces found in {found}/{total} photos, {len(per_identity)} identities")
    mean, population = mean_face(per_identity)
    rigid = rigid_vertices(per_identity, mean)
    rigid_weights = np.isin(np.arange(468), rigid).astype(float)
    population = align(population, mean, rigid_weights)
    aperture_mean, aperture_sd, iris_rest = eye_statistics(per_identity, mean, rigid)
    skin = orient_inwards(mean, open_holes(triangles))
    mirror = mirror_indices(mean)
    expression_vertices, expression_weight = expression_weights(mean, mirror)
    basis, identity_sd, residual_sd, explained = expression_space(per_identity, mean, rigid_weights, expression_vertices, mirror, population)
    print(f"expression space: {len(basis)} components explain {explained:.1%} of within-person movement")
    avatar = Avatar(
        vertices=mean.astype(np.float32),
        triangles=skin,
        lip_triangles=region_triangles(mean, skin, [LIPS_OUTER]),
        brow_triangles=region_triangles(mean, skin, [brow_polygon(RIGHT_BROW), brow_polygon(LEFT_BROW)]),
        rigid=np.sort(rigid),
        expression_vertices=expression_vertices,
        expression_weight=expression_weight,
        expression_basis=basis.astype(np.float32),
        expression_identity_sd=identity_sd.astype(np.float32),
        expression_residual_sd=residual_sd.astype(np.float32),
        eye_aperture_mean=aperture_mean.astype(np.float32),
        eye_aperture_sd=aperture_sd.astype(np.float32),
        iris_rest=iris_rest.astype(np.float32),
    )
    out = args.out / "avatar.npz"
    avatar.save(out)
    write_provenance(args, wheel, avatar, len(per_identity), found, total, len(triangles), explained, out)


def write_provenance(args, wheel: Path, avatar: Avatar, identities: int, found: int, total: int, tessellation: int, explained: float, out: Path) -> None:
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    text = f"""# avatar.npz: the identity-free canonical face

Built by `python tools/build_avatar.py {' '.join(str(r) for r in args.roots)}`.

- Shape: per-vertex mean of {identities} identities' pose-normalised face meshes
  ({found} of {total} photos had a face), each identity first reduced to the
  median of its own photos. The photos come from the project's shared test data
  and are not in the repository; only this mean and the per-vertex population SD
  are. Canonical units: outer eye corners 1.0 apart.
- Triangles: {tessellation} triangles read from
  `FACEMESH_TESSELATION` (listed edge by edge, three edges a triangle) in `{TESSELATION_PATH}` inside `{wheel.name}`
  (sha256 {sha(wheel)}, Apache-2.0), minus the eye openings and the mouth:
  {len(avatar.triangles)} skin triangles ({len(avatar.lip_triangles)} lips, {len(avatar.brow_triangles)} brows).
- Rigid vertices: the {len(avatar.rigid)} vertices that moved least between photos of the same person.
- Expression vertices: {len(avatar.expression_vertices)} (lower face, feathered over the nose, and brows).
- Expression space: the first {len(avatar.expression_basis)} principal components of within-person movement
  (each photo minus that person's median shape, plus its mirror image), explaining {explained:.1%} of it.
- Iris rest position (dx, dy over eye width from the corners' midpoint; right eye, left eye):
  {np.round(avatar.iris_rest.astype(float), 3).tolist()} (median over identities; people in photos mostly look at the camera).
- Population lid aperture (fraction of eye width): upper {avatar.eye_aperture_mean[0]:.3f} ± {avatar.eye_aperture_sd[0]:.3f},
  lower {avatar.eye_aperture_mean[1]:.3f} ± {avatar.eye_aperture_sd[1]:.3f} (mean ± SD over identities).
- sha256 of avatar.npz: {sha(out)}
"""
    (args.out / "AVATAR.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
