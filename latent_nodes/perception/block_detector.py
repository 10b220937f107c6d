"""The red block in an RGB (and depth) image: found by colour with OpenCV, placed in the table frame.

Steps (OpenCV does the image processing; what is left here is geometry):

1. threshold in HSV for red, which wraps around hue 0, so two hue ranges (``cv2.inRange``), then an
   opening (``cv2.morphologyEx``) against single stray pixels;
2. connected components with their areas and centroids (``cv2.connectedComponentsWithStats``, inside the
   red pixels' bounding box, ``cv2.boundingRect``); specks below ``min_blob_px`` are ignored; blobs
   whose rays meet the block-top plane within two block diagonals of the largest's are one block cut in
   pieces (the arm in front of it), anything red further away is a second candidate, and the image is
   refused;
3. place the block: the ray through the blob's centroid meets the plane of the block's top face in the
   table frame. The blob is the block's whole silhouette (its top and the faces turned to the camera),
   so its centroid is not the top face's centre; the silhouette a block at (x, y) would cast (the convex
   hull of its 8 projected corners, clipped to the image) is computed, and (x, y) is corrected until
   that silhouette's centroid is the blob's (three fixed-point steps; the correction is 9-16 mm over
   the workspace at the default mount, the fixed point's residual below a micrometre). With a depth
   image the pixels around the blob that lie on the top face (within ``depth_tolerance`` of its height:
   1 mm, as the side facing the camera drops ~2 mm a pixel row below the top edge and would pull the
   place towards the camera) give the place directly, as their mean weighted by the area each pixel
   covers on the face;
4. confidence: the blob's area as a fraction of that silhouette's area (``visible_fraction``); below
   ``min_visible`` the block is mostly hidden and refused rather than placed where its visible sliver is;
   above ``max_visible`` the red thing is bigger than the block the detector places (a 5 cm block read
   as a 4 cm one is placed 3-5 mm off) and refused too.

Every refusal is a ``Refusal`` whose ``reason`` is one of ``REASONS``, so a node can count each kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from latent_nodes.perception.camera_geometry import CameraPose, intrinsics_problem

# Why an image gives no block pose (the keys a node counts on /diagnostics).
REASONS = {
    "no_camera_info": "no CameraInfo has arrived yet",
    "invalid_k": "the CameraInfo's K is not a pinhole camera's",
    "no_extrinsics": "the camera's pose in the table frame is not known yet",
    "unsupported_encoding": "the image's encoding is not one the detector reads",
    "bad_size": "the image has zero size or its data does not match its size",
    "size_mismatch": "the image's size disagrees with the CameraInfo's",
    "no_block": "no red block in view",
    "several_candidates": "two or more red objects in view",
    "mostly_hidden": "the block is mostly hidden (by the arm)",
    "too_large": "the red blob is larger than a block of the expected size at that place",
}


class Refusal(Exception):
    """No block pose from this image; ``reason`` is a key of ``REASONS``, the message says the figures."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DetectorSettings:
    """What the detector looks for. Hue in OpenCV's 0-179 scale; saturation and value 0-255."""

    block_size: float = 0.04  # edge of the cube, metres; it rests on the table (z = 0 is the table top)
    min_visible: float = 0.9  # refuse below this visible fraction (docs/camera.md: chosen from measurements)
    max_visible: float = 1.2  # refuse above: a bigger red thing than the block (fully visible: 0.92-1.04)
    hue_ranges: tuple[tuple[int, int], ...] = ((0, 10), (170, 179))  # red wraps around hue 0
    min_saturation: int = 120  # the wooden table (saturation ~70-110) is not red
    min_value: int = 40  # the block's faces in shadow stay above this
    min_blob_px: int = 4  # smaller components are noise, not a candidate
    depth_tolerance: float = 0.001  # metres: depth pixels this close to the top face's height lie on it


@dataclass(frozen=True)
class CameraModel:
    """A camera as the detector needs it: intrinsics (checked), image size, pose in the table frame."""

    k: np.ndarray
    width: int
    height: int
    pose: CameraPose

    def __post_init__(self) -> None:
        problem = intrinsics_problem(self.k, self.width, self.height)
        if problem:
            raise Refusal("invalid_k", problem)
        object.__setattr__(self, "k_inv", np.linalg.inv(self.k))

    def project(self, points: np.ndarray) -> np.ndarray:
        """[N, 2] pixel coordinates of table-frame points (all in front of the camera)."""
        p = self.pose.to_optical(points)
        uv = p @ self.k.T
        return uv[:, :2] / uv[:, 2:]

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """[N, 3] table-frame directions of the rays through pixels ``uv`` [N, 2]."""
        uv = np.atleast_2d(np.asarray(uv, dtype=np.float64))
        return np.column_stack([uv, np.ones(len(uv))]) @ self.k_inv.T @ self.pose.rotation.T

    def on_plane(self, uv: np.ndarray, z: float) -> np.ndarray:
        """[N, 2] where the rays through ``uv`` meet the horizontal plane at height ``z`` (table frame)."""
        d = self.rays(uv)
        if np.any(d[:, 2] >= -1e-9) and self.pose.position[2] > z:
            raise Refusal("no_block", "a ray through the red pixels does not come down to the block-top plane")
        s = (z - self.pose.position[2]) / d[:, 2]
        return self.pose.position[:2] + s[:, None] * d[:, :2]


@dataclass(frozen=True)
class Detection:
    """A block pose from one image, with how much of the block was seen."""

    xyz: np.ndarray  # [3] the block's centre in the table frame, metres
    visible_fraction: float  # visible area / area of the fully visible block's silhouette at this place
    area_px: int  # red pixels of the block
    expected_area_px: float  # pixels of its full silhouette (clipped to the image)
    pieces: int  # blobs the block was seen as (more than 1: something in front of it cuts it)
    method: str  # "plane" (ray on the block-top plane) or "depth"


def red_mask(rgb: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """[H, W] uint8 mask (255 = red) after the opening."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    mask = None
    for low, high in settings.hue_ranges:
        part = cv2.inRange(hsv, (low, settings.min_saturation, settings.min_value), (high, 255, 255))
        mask = part if mask is None else cv2.bitwise_or(mask, part)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))


def silhouette(camera: CameraModel, xy: np.ndarray, size: float) -> tuple[float, np.ndarray]:
    """(area in pixels, [2] centroid) of the silhouette of a cube of edge ``size`` at ``xy`` on the table,
    clipped to the image (pixel centres at integers, so the image spans -0.5 .. width - 0.5).
    """
    h = size / 2
    corners = np.array([[xy[0] + a * h, xy[1] + b * h, z] for a in (-1, 1) for b in (-1, 1) for z in (0.0, size)])
    hull = cv2.convexHull(camera.project(corners).astype(np.float32))
    frame = np.array([[-0.5, -0.5], [camera.width - 0.5, -0.5], [camera.width - 0.5, camera.height - 0.5],
                      [-0.5, camera.height - 0.5]], dtype=np.float32)
    area, clipped = cv2.intersectConvexConvex(hull, frame)
    if area <= 0 or clipped is None:
        return 0.0, np.full(2, np.nan)
    m = cv2.moments(clipped.reshape(-1, 2))
    return float(area), np.array([m["m10"] / m["m00"], m["m01"] / m["m00"]])


def detect_block(rgb: np.ndarray, camera: CameraModel | None, settings: DetectorSettings | None = None,
                 depth: np.ndarray | None = None) -> Detection:
    """The block in ``rgb`` ([H, W, 3] uint8 RGB) seen by ``camera``; ``depth`` [H, W] metres (0 or NaN: no
    reading) registered to ``rgb``, optional. Raises ``Refusal`` with the reason when it gives no pose.
    """
    settings = settings or DetectorSettings()
    if camera is None:
        raise Refusal("no_camera_info", REASONS["no_camera_info"])
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise Refusal("unsupported_encoding", f"expected [H, W, 3] uint8 RGB, got {rgb.dtype} {rgb.shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise Refusal("bad_size", f"image is {rgb.shape[1]} x {rgb.shape[0]} pixels")
    if rgb.shape[:2] != (camera.height, camera.width):
        raise Refusal("size_mismatch", f"image is {rgb.shape[1]} x {rgb.shape[0]} pixels but CameraInfo says "
                                       f"{camera.width} x {camera.height}")
    if depth is not None and depth.shape != rgb.shape[:2]:
        raise Refusal("size_mismatch", f"depth image is {depth.shape[1]} x {depth.shape[0]} pixels, colour "
                                       f"{rgb.shape[1]} x {rgb.shape[0]}")
    mask = red_mask(rgb, settings)
    # Components are labelled inside the red pixels' bounding box only: the block is a few hundred pixels
    # of a 640 x 480 frame, and labelling the whole frame costs more than all the rest (2-5 ms).
    x0, y0, w, h = cv2.boundingRect(mask)
    if w == 0:
        raise Refusal("no_block", "no red pixels in view")
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask[y0:y0 + h, x0:x0 + w], connectivity=8)
    centroids = centroids + (x0, y0)
    blobs = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= settings.min_blob_px]
    if not blobs:
        raise Refusal("no_block", "no red pixels in view" if n == 1 else
                      f"only specks of red in view (largest {int(stats[1:, cv2.CC_STAT_AREA].max())} px)")
    top = settings.block_size
    blobs.sort(key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    hits = camera.on_plane(centroids[blobs], top)
    # Pieces of one block: their centroids' rays meet the top plane within the block's footprint (its
    # diagonal plus the depth of its side faces seen obliquely) of the largest piece.
    reach = 2.0 * np.sqrt(2.0) * settings.block_size
    near = np.linalg.norm(hits - hits[0], axis=1) <= reach
    if not np.all(near):
        far = [blobs[j] for j in np.flatnonzero(~near)]
        raise Refusal("several_candidates", f"{1 + len(far)} red objects in view (areas "
                                            f"{[int(stats[i, cv2.CC_STAT_AREA]) for i in [blobs[0], *far]]} px)")
    pieces = [blobs[j] for j in np.flatnonzero(near)]
    areas = stats[pieces, cv2.CC_STAT_AREA].astype(np.float64)
    area = float(areas.sum())
    centroid = (centroids[pieces] * areas[:, None]).sum(axis=0) / area

    # The ray through the centroid on the top plane, corrected for the silhouette's offset from the top.
    target = camera.on_plane(centroid[None], top)[0]
    xy = target.copy()
    expected = 0.0
    for _ in range(3):
        expected, predicted = silhouette(camera, xy, settings.block_size)
        if expected <= 0:
            break
        xy = xy + (target - camera.on_plane(predicted[None], top)[0])
    expected, _ = silhouette(camera, xy, settings.block_size)
    visible = area / expected if expected > 0 else 0.0
    if visible < settings.min_visible:
        raise Refusal("mostly_hidden", f"block mostly hidden: {area:.0f} of {expected:.0f} px visible "
                                       f"({visible:.0%} < {settings.min_visible:.0%})")
    if visible > settings.max_visible:
        raise Refusal("too_large", f"red blob of {area:.0f} px where a {settings.block_size * 100:g} cm block would "
                                   f"cover {expected:.0f} px ({visible:.0%} > {settings.max_visible:.0%})")
    method = "plane"
    if depth is not None:
        # Every pixel around the block, not only the red ones: whether a pixel shows the top face is the
        # depth's to say (colour edges are blended, and the opening shaves them).
        box = cv2.boundingRect(np.isin(labels, pieces).astype(np.uint8))
        bx0, by0 = max(x0 + box[0] - 2, 0), max(y0 + box[1] - 2, 0)
        around = np.zeros(mask.shape, dtype=bool)
        around[by0:y0 + box[1] + box[3] + 2, bx0:x0 + box[0] + box[2] + 2] = True
        placed = _top_from_depth(camera, around, depth, top, settings.depth_tolerance)
        if placed is not None:
            xy, method = placed, "depth"
    return Detection(xyz=np.array([xy[0], xy[1], settings.block_size / 2]), visible_fraction=float(visible),
                     area_px=int(area), expected_area_px=float(expected), pieces=len(pieces), method=method)


def _top_from_depth(camera: CameraModel, mask: np.ndarray, depth: np.ndarray, top: float,
                    tolerance: float) -> np.ndarray | None:
    """Mean x, y of the block's pixels whose depth puts them on its top face; None when too few do."""
    v, u = np.nonzero(mask)
    z = depth[v, u].astype(np.float64)
    ok = np.isfinite(z) & (z > 0)
    if ok.sum() < 8:
        return None
    u, v, z = u[ok], v[ok], z[ok]
    optical = np.column_stack([u, v, np.ones(len(u))]) @ camera.k_inv.T * z[:, None]  # z-depth: scale K^-1 [u v 1]
    points = camera.pose.to_table(optical)
    on_top = np.abs(points[:, 2] - top) <= tolerance
    if on_top.sum() < 8:
        return None
    # Each pixel weighs the area it covers on the top face: seen obliquely, the near half of the face
    # has more pixels per square millimetre than the far half, and a plain mean leans towards the
    # camera. The area is that of the pixel's square cast onto the plane (shoelace formula).
    u, v = u[on_top].astype(np.float64), v[on_top].astype(np.float64)
    square = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    corners = [camera.on_plane(np.column_stack([u + du, v + dv]), top) for du, dv in square]
    area = 0.5 * np.abs(sum(a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]
                            for a, b in zip(corners, corners[1:] + corners[:1])))
    return (points[on_top, :2] * area[:, None]).sum(axis=0) / area.sum()
