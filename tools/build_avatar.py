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
   apart on the x axis, y down, z away from the camera).
4. Rigid vertices (for pose) are the ones that move least between photos of
   the same person. Triangles come from MediaPipe's face-mesh tessellation
   (edges listed in the mediapipe wheel, triangles recovered as the mesh's
   3-cliques), with the eye openings and the mouth opened as holes.
5. The action units (dmask/measure/action_units.py) are laid on the mean face; the
   population's resting intensities, lid apertures, iris rest position, iris
   size and MRD calibration are medians over the identities; what is drawn
   at rest (the intensities, the iris's place) is made mirror-symmetric.
6. The texture (models/avatar_texture.png): every colour photo unwrapped into
   the mean face's UV space and averaged over identities, with a painted eye
   (tools/avatar_texture.py).

Usage: python tools/build_avatar.py ../shared/data/identities ../shared/data/identities_orl \
    --keep-texture models/avatar_texture.png
(the shipped asset keeps its texture, read before the new one is written: models/AVATAR.md says why)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmask.measure.action_units import CHANNEL_NAMES, PAIRS, ActionUnitSolver, build_basis, lip_gap  # noqa: E402
from dmask.measure.avatar import AVATAR_FILE, TEXTURE_FILE, TEXTURE_SHAPE, Avatar, mm_per_canonical_unit  # noqa: E402
from dmask.measure.clinical import NORMAL_MRD_MM, margin_reflex_mm  # noqa: E402
from dmask.config import load_config  # noqa: E402
from dmask.measure.fit import Similarity, fit_similarity, measure_eye  # noqa: E402
from dmask.measure.geometry import EyeLine  # noqa: E402
from dmask.capture.media import PHOTO_SUFFIXES, read_photo  # noqa: E402
from dmask.measure.mesh_index import (  # noqa: E402
    INNER_CORNER,
    LEFT_BROW,
    LEFT_EYE_OUTER,
    LEFT_LIDS,
    LIPS_INNER,
    LIPS_OUTER,
    LOWER,
    OUTER_CORNER,
    RIGHT_BROW,
    RIGHT_EYE_OUTER,
    RIGHT_LIDS,
    UPPER,
)
from dmask.models import InferenceModels  # noqa: E402
from dmask.measure.tracking import FaceTracker  # noqa: E402

from avatar_texture import FaceUnwrapper, atlas, average_face, clean_edges, face_uv  # noqa: E402  (tools/, beside this script)

MEDIAPIPE = "mediapipe==0.10.14"
TESSELATION_PATH = "mediapipe/python/solutions/face_mesh_connections.py"
MIN_PHOTO_SIDE = 256
LASH_LINE_BGR = (45.0, 55.0, 75.0)
PARTING_BGR = (60.0, 60.0, 110.0)
RIGID_FRACTION = 0.3


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


def sized_photo(path: Path) -> np.ndarray:
    """The photo, small ones upsampled (the face mesh misses small faces)."""
    image = read_photo(path)
    factor = max(1.0, MIN_PHOTO_SIDE / min(image.shape[:2]))
    if factor > 1:
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return image


def largest_face(tracker: FaceTracker, image: np.ndarray):
    faces = tracker.observe(image).faces
    return faces[0] if faces else None


def grey(image: np.ndarray) -> bool:
    """A black-and-white photo (the ORL set): its colour would wash out the texture's."""
    return float(np.abs(image[..., 0].astype(np.int16) - image[..., 2]).mean()) < 2.0


def colour_faces(tracker: FaceTracker, roots: list[Path]):
    """(identity, [(photo, its largest face), ...]) for each identity with a colour photo where a face is found.

    The texture's contributors (tools/texture_check.py measures them the same
    way); black-and-white photos are left out before the tracker runs.
    """
    for identity, paths in identity_photos(roots).items():
        images = [image for image in map(sized_photo, paths) if not grey(image)]
        seen = [(image, face) for image in images if (face := largest_face(tracker, image)) is not None]
        if seen:
            yield identity, seen


def texture_contributions(tracker: FaceTracker, roots: list[Path], unwrapper: FaceUnwrapper):
    """Per contributing identity (colour_faces), each photo's unwrapped (texels, weights)."""
    return [[unwrapper.unwrap(image, face.landmarks) for image, face in seen] for _, seen in colour_faces(tracker, roots)]


def eye_openings_and_mouth(uv: np.ndarray) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
    """The holes of the face square and their fixed colours (BGR): dark lash brown, the lips' parting."""
    def ring(lids: np.ndarray) -> np.ndarray:
        return np.concatenate([lids[[OUTER_CORNER]], lids[LOWER], lids[[INNER_CORNER]], lids[UPPER][::-1]])
    return [(uv[ring(RIGHT_LIDS)], LASH_LINE_BGR), (uv[ring(LEFT_LIDS)], LASH_LINE_BGR), (uv[LIPS_INNER], PARTING_BGR)]


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
        faces = [f for f in (largest_face(tracker, sized_photo(p)) for p in paths) if f is not None]
        total += len(paths)
        found += len(faces)
        if faces:
            per_identity[identity] = faces
    return per_identity, found, total


def shapes_of(faces) -> np.ndarray:
    return np.array([f.landmarks for f in faces], np.float64)


def mean_face(per_identity) -> np.ndarray:
    """The mean of the identities' median shapes, in the canonical frame."""
    everything = np.ones(468)
    medians = [np.median(align(shapes_of(faces), shapes_of(faces)[0], everything), 0) for faces in per_identity.values()]
    aligned = generalised_procrustes(np.array(medians), everything)
    origin, basis = canonical_frame(aligned.mean(0))
    return ((aligned - origin) @ basis.T).mean(0)


def rigid_vertices(per_identity, mean: np.ndarray) -> np.ndarray:
    """The vertices that move least between photos of the same person."""
    spread = [align(shapes_of(faces), mean, np.ones(468)).std(0).sum(1) for faces in per_identity.values() if len(faces) > 1]
    return np.argsort(np.mean(spread, 0))[: int(RIGID_FRACTION * 468)].astype(np.int32)


@dataclass(frozen=True)
class EyeStatistics:
    """The population's eyes: medians over identities of each one's median photo."""

    aperture_mean: np.ndarray  # (2,) upper, lower, fraction of eye width (mean)
    iris_rest: np.ndarray  # (2, 2) right, left x (dx, dy), from the iris model's corners
    iris_rest_mesh: np.ndarray  # (2, 2) the same from the mesh's corners, mirror-symmetric (drawn)
    iris_diameter: float  # over eye width
    mrd_offset_mm: np.ndarray  # (2,) calibration of MRD1, MRD2 (dmask.measure.clinical)


def iris_from_mesh_corners(face, pose: Similarity, lids: np.ndarray, eye) -> np.ndarray:
    """(dx, dy) of the iris centre from the midpoint of the mesh's own corners of that eye, over its width."""
    shape = pose.to_canonical(face.landmarks.astype(np.float64))
    line = EyeLine.of(shape[lids, :2])
    depth = float(face.landmarks[lids, 2].astype(np.float64).mean())
    iris = pose.to_canonical(np.array([[*eye.iris[0].astype(np.float64), depth]]))[0, :2]
    return (iris - line.middle) / line.width


def mirror_symmetric(rest: np.ndarray) -> np.ndarray:
    """(2, 2) right and left (dx, dy) made mirror images of each other (x mirrored), keeping their mean."""
    across, down = 0.5 * (rest[1, 0] - rest[0, 0]), 0.5 * (rest[0, 1] + rest[1, 1])
    return np.array([[-across, down], [across, down]])


def eye_statistics(per_identity, mean: np.ndarray, rigid: np.ndarray) -> EyeStatistics:
    apertures, irises, meshes, diameters, mrds = [], [], [], [], []
    for faces in per_identity.values():
        per_photo = []
        for f in faces:
            pose = fit_similarity(mean[rigid], f.landmarks[rigid].astype(np.float64), np.ones(len(rigid)))
            z = f.landmarks[:, 2].astype(np.float64)
            eyes = measure_eye(f.right_eye, z[RIGHT_LIDS], pose), measure_eye(f.left_eye, z[LEFT_LIDS], pose)
            raw = [margin_reflex_mm(e.upper, e.lower, e.iris_dy, e.width_mm, np.zeros(2)) for e in eyes]
            per_photo.append([
                np.mean([e.upper for e in eyes]), np.mean([e.lower for e in eyes]),
                eyes[0].iris_dx, eyes[0].iris_dy, eyes[1].iris_dx, eyes[1].iris_dy,
                np.mean([e.iris_diameter for e in eyes]), *np.mean(raw, 0),
                *iris_from_mesh_corners(f, pose, RIGHT_LIDS, f.right_eye), *iris_from_mesh_corners(f, pose, LEFT_LIDS, f.left_eye),
            ])
        medians = np.median(per_photo, 0)
        apertures.append(medians[:2])
        irises.append(medians[2:6].reshape(2, 2))
        diameters.append(medians[6])
        mrds.append(medians[7:9])
        meshes.append(medians[9:13].reshape(2, 2))
    return EyeStatistics(
        np.mean(apertures, 0), np.median(irises, 0), mirror_symmetric(np.median(meshes, 0)), float(np.median(diameters)),
        NORMAL_MRD_MM - np.median(mrds, 0),
    )


def resting_units(per_identity, mean: np.ndarray, rigid_weights: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(C,) the median over identities of the action units fitted to each one's median face, sides averaged."""
    solver = ActionUnitSolver(basis)
    units = [solver.solve(np.median(align(shapes_of(faces), mean, rigid_weights), 0) - mean) for faces in per_identity.values()]
    median = np.median(units, 0)
    for right, left in PAIRS:
        median[right] = median[left] = 0.5 * (median[right] + median[left])
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="folders of DIR/<identity>/<photo>")
    parser.add_argument("--wheel-cache", type=Path, default=Path("/tmp/dmask-wheels"))
    parser.add_argument("--out", type=Path, default=REPO / "models")
    parser.add_argument("--keep-texture", type=Path, metavar="PNG",
                        help="use this texture instead of building one (models/AVATAR.md says why the shipped one is kept)")
    args = parser.parse_args()

    wheel = mediapipe_wheel(args.wheel_cache)
    triangles = tessellation_triangles(wheel)
    config = load_config(None)
    tracker = InferenceModels.load(config).tracker(config, still=True)

    per_identity, found, total = observe_identities(tracker, args.roots)
    print(f"faces found in {found}/{total} photos, {len(per_identity)} identities")
    mean = mean_face(per_identity).astype(np.float32).astype(np.float64)  # as stored, so the runtime mirrors it alike
    rigid = rigid_vertices(per_identity, mean)
    rigid_weights = np.isin(np.arange(468), rigid).astype(float)
    eyes = eye_statistics(per_identity, mean, rigid)
    skin = orient_inwards(mean, open_holes(triangles))
    basis = build_basis(mean, mm_per_canonical_unit(mean, eyes.iris_diameter))
    uv = face_uv(mean)
    if args.keep_texture:
        texture, contributions = cv2.imread(str(args.keep_texture), cv2.IMREAD_COLOR).astype(np.float32), []
    else:
        contributions = texture_contributions(tracker, args.roots, FaceUnwrapper(uv, skin))
        print(f"texture from {sum(map(len, contributions))} colour photos of {len(contributions)} identities")
        texture = atlas(average_face(contributions, eye_openings_and_mouth(uv)))
    texture = clean_edges(texture, uv, skin)
    avatar = Avatar(
        vertices=mean.astype(np.float32),
        triangles=skin,
        lip_triangles=region_triangles(mean, skin, [LIPS_OUTER]),
        brow_triangles=region_triangles(mean, skin, [brow_polygon(RIGHT_BROW), brow_polygon(LEFT_BROW)]),
        rigid=np.sort(rigid),
        action_unit_basis=basis,
        action_unit_rest=resting_units(per_identity, mean, rigid_weights, basis).astype(np.float32),
        eye_aperture_mean=eyes.aperture_mean.astype(np.float32),
        iris_diameter=np.float32(eyes.iris_diameter),
        mrd_offset_mm=eyes.mrd_offset_mm.astype(np.float32),
        iris_rest=eyes.iris_rest.astype(np.float32),
        iris_rest_mesh=eyes.iris_rest_mesh.astype(np.float32),
        uv=uv,
        texture=texture,
    )
    avatar.save(args.out)
    write_provenance(args, wheel, avatar, len(per_identity), found, total, len(triangles), contributions)


KEPT_TEXTURE = (
    "kept from the build of commit 6c9460b (`--keep-texture`), whose tracker followed each photo's face from the photo "
    "before. Rebuilt with that fixed, the texture made the drawn lids read 0.012 eye widths more open than the "
    "originals' on the CI fidelity subset (MediaPipe aperture MAE 0.029 to 0.041, right eye; blink F1 0.58 to 0.54), "
    "so it waits for the avatar's look to be redone (issue 27). Its outline band is cleaned as a built one's is "
    "(tools/avatar_texture.py, clean_edges)."
)


def texture_provenance(args, contributions: list) -> str:
    """How the texture was made, for AVATAR.md."""
    if args.keep_texture:
        return KEPT_TEXTURE
    return (f"the face square is the per-texel median over {len(contributions)} identities of each one's mean of its "
            f"{sum(map(len, contributions))} colour photos, unwrapped into the mean face's x, y and brought to one skin "
            "tone (tools/avatar_texture.py); the eye square is painted (a dark brown iris with fibres, a limbal ring, "
            "a pupil, an off-white sclera); the face's outline band is filled from further in (clean_edges). No photo is "
            "stored.")


def write_provenance(args, wheel: Path, avatar: Avatar, identities: int, found: int, total: int, tessellation: int,
                     contributions: list) -> None:
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    text = f"""# avatar.npz: the identity-free canonical face

Built by `python tools/build_avatar.py {' '.join(str(r) for r in args.roots)}{f' --keep-texture {args.keep_texture}' if args.keep_texture else ''}`.

- Shape: per-vertex mean of {identities} identities' pose-normalised face meshes
  ({found} of {total} photos had a face), each identity first reduced to the
  median of its own photos. The photos come from the project's shared test data
  and are not in the repository; only this mean and population medians
  are. Canonical units: outer eye corners 1.0 apart.
- Triangles: {tessellation} triangles read from
  `FACEMESH_TESSELATION` (listed edge by edge, three edges a triangle) in `{TESSELATION_PATH}` inside `{wheel.name}`
  (sha256 {sha(wheel)}, Apache-2.0), minus the eye openings and the mouth:
  {len(avatar.triangles)} skin triangles ({len(avatar.lip_triangles)} lips, {len(avatar.brow_triangles)} brows).
- Drawn with its lips closed: at the population's resting intensities the mean face's inner lips are {lip_gap(avatar.expressed(avatar.action_unit_rest)) * avatar.mm_per_unit:.1f} mm apart (press photos, many smiling), so `Avatar.drawn` adds the field of `dmask.measure.action_units.lip_closure` that brings them together on their meeting line (computed at load from this asset, not stored); `dmask.measure.fit.MouthOpening` opens the drawn mouth from there as far as the measured one opened from its rest.
- Rigid vertices: the {len(avatar.rigid)} vertices that moved least between photos of the same person.
- Action units: {len(avatar.action_unit_basis)} channels (12 FACS units x 2 sides) authored in
  `dmask/measure/action_units.py` on this mean face ({avatar.mm_per_unit:.1f} mm per canonical unit, from the iris).
  Population resting intensities (median over identities of each one's median face, each unit's two sides averaged):
  {dict(zip(CHANNEL_NAMES, np.round(avatar.action_unit_rest.astype(float), 3).tolist()))}.
- Iris rest position (dx, dy over eye width from the corners' midpoint; right eye, left eye):
  {np.round(avatar.iris_rest.astype(float), 3).tolist()} from the iris model's corners (median over identities; people in
  photos mostly look at the camera); drawn from the mesh's own corners at
  {np.round(avatar.iris_rest_mesh.astype(float), 3).tolist()} (the same medians, made mirror-symmetric).
- Population lid aperture (fraction of eye width): upper {avatar.eye_aperture_mean[0]:.3f},
  lower {avatar.eye_aperture_mean[1]:.3f} (mean over identities).
- Iris diameter over eye width: {float(avatar.iris_diameter):.3f} (median over identities), so the eye is
  {avatar.eye_width_mm:.1f} mm wide with an 11.7 mm iris.
- MRD calibration (added to the raw MRD1, MRD2 so the population's median reads 4.5 mm and 5.25 mm):
  {np.round(avatar.mrd_offset_mm.astype(float), 2).tolist()} mm.
- Texture (`{TEXTURE_FILE}`, {TEXTURE_SHAPE[1]}x{TEXTURE_SHAPE[0]}): {texture_provenance(args, contributions)}
- sha256 of avatar.npz: {sha(args.out / AVATAR_FILE)}
- sha256 of {TEXTURE_FILE}: {sha(args.out / TEXTURE_FILE)}
"""
    (args.out / "AVATAR.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
