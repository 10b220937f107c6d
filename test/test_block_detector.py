"""The block detector on frames the embedded camera renders, and every way an image is refused.

Frames are rendered at 320 x 240 (the coarser resolution the benchmark measures: its bounds hold a
fortiori at 640 x 480). The error bound, 1.7 mm, is benchmarks/camera_perception.py's maximum inside
the workspace at 320 x 240 (1.68 mm over 25 positions, arm at home; docs/camera.md). About 3 s on the
2-core development machine: 8 frames rendered, one reach demonstration, refusals on synthetic images.
"""

from dataclasses import replace

import numpy as np
import pytest

from latent_nodes.config import CameraConfig
from latent_nodes.nodes import messages
from latent_nodes.perception.block_detector import CameraModel, DetectorSettings, Refusal, detect_block, red_mask
from latent_nodes.sim.camera import camera_model
from latent_nodes.sim.demonstrations import generate_demonstration
from latent_nodes.sim.simulator import ArmSimulator, RenderUnavailable

CAMERA = CameraConfig(width=320, height=240, depth=False)
BOUND_M = 0.0017  # the benchmark's maximum error inside the workspace at 320 x 240, arm at home
# Block positions of the benchmark's grid inside the workspace: near corners, far corners, centre.
POSITIONS = [(0.37, -0.163), (0.37, 0.163), (0.58, -0.163), (0.58, 0.163), (0.475, 0.0)]


@pytest.fixture(scope="module")
def sim():
    s = ArmSimulator(camera_cfg=CAMERA)
    try:
        s.camera_images()
    except RenderUnavailable as exc:
        s.close()
        pytest.skip(f"offscreen rendering unavailable: {exc}")
    yield s
    s.close()


@pytest.fixture(scope="module")
def frames(sim):
    """(truth xy, rgb) at POSITIONS, arm at home."""
    out = []
    sim.reset()
    for x, y in POSITIONS:
        sim.set_block(x, y)
        out.append((sim.block_xy, sim.camera_images()[0]))
    return out


CAM = camera_model(CAMERA)


def test_pose_error_inside_the_workspace_is_within_the_measured_bound(frames):
    errors = []
    for truth, rgb in frames:
        d = detect_block(rgb, CAM)
        errors.append(np.linalg.norm(d.xyz[:2] - truth))
        assert d.xyz[2] == pytest.approx(0.02)  # the block's centre, half its edge above the table
        assert d.method == "plane" and d.pieces == 1
        assert 0.9 <= d.visible_fraction <= 1.05  # fully visible: the measured 0.92-1.04
    assert max(errors) <= BOUND_M, f"errors {np.round(np.array(errors) * 1e3, 2)} mm"


def test_without_the_silhouette_correction_the_centroid_ray_is_millimetres_off(frames):
    """The correction is what makes the bound: the raw centroid ray on the top plane is off by ~11 mm."""
    truth, rgb = frames[-1]
    d = detect_block(rgb, CAM)
    v, u = np.nonzero(red_mask(rgb, DetectorSettings()))
    raw = CAM.on_plane(np.array([[u.mean(), v.mean()]]), 0.04)[0]
    assert np.linalg.norm(raw - truth) > 9e-3 and np.linalg.norm(d.xyz[:2] - truth) <= BOUND_M


def test_no_block_in_view(frames):
    _, rgb = frames[-1]
    table = np.broadcast_to(rgb[5, 5], rgb.shape).copy()  # a frame of nothing but background colour
    with pytest.raises(Refusal) as exc:
        detect_block(table, CAM)
    assert exc.value.reason == "no_block"


def test_two_red_objects_are_refused(frames):
    _, rgb = frames[-1]
    red = np.nonzero(red_mask(rgb, DetectorSettings()))
    two = rgb.copy()
    two[red[0], np.clip(red[1] + 80, 0, rgb.shape[1] - 1)] = rgb[red]  # the block's pixels again, 80 px right
    with pytest.raises(Refusal) as exc:
        detect_block(two, CAM)
    assert exc.value.reason == "several_candidates"


def test_bad_inputs_each_have_their_reason(frames):
    _, rgb = frames[-1]
    cases = [
        (lambda: detect_block(rgb, None), "no_camera_info"),
        (lambda: CameraModel(np.zeros((3, 3)), 320, 240, CAM.pose), "invalid_k"),
        (lambda: CameraModel(np.array([[300.0, 0, 900], [0, 300, 120], [0, 0, 1]]), 320, 240, CAM.pose), "invalid_k"),
        (lambda: detect_block(rgb.astype(np.float32), CAM), "unsupported_encoding"),
        (lambda: detect_block(rgb[:0], CAM), "bad_size"),
        (lambda: detect_block(rgb[:200], CAM), "size_mismatch"),
        (lambda: detect_block(rgb, CAM, depth=np.ones((10, 10), np.float32)), "size_mismatch"),
        # The same frame read by a detector that expects a 3 cm block: the 4 cm one is too large.
        (lambda: detect_block(rgb, CAM, DetectorSettings(block_size=0.03)), "too_large"),
    ]
    for call, reason in cases:
        with pytest.raises(Refusal) as exc:
            call()
        assert exc.value.reason == reason, str(exc.value)


def test_image_messages_round_trip_and_refuse_bad_ones(frames):
    _, rgb = frames[-1]
    assert np.array_equal(messages.image_array(messages.image(rgb, "rgb8", "cam")), rgb)
    assert np.array_equal(messages.image_array(messages.image(rgb[:, :, ::-1], "bgr8", "cam")), rgb)
    depth = np.linspace(0.5, 2.0, 12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(messages.image_array(messages.image(depth, "32FC1", "cam"), ("32FC1",)), depth)
    mm = messages.image((depth * 1000).astype(np.uint16), "16UC1", "cam")
    assert np.allclose(messages.image_array(mm, ("16UC1",)), depth, atol=1e-3)
    bad = messages.image(rgb, "rgb8", "cam")
    bad.encoding = "mono8"
    with pytest.raises(messages.ImageError) as exc:
        messages.image_array(bad)
    assert exc.value.reason == "unsupported_encoding"
    short = messages.image(rgb, "rgb8", "cam")
    short.height = 241
    with pytest.raises(messages.ImageError) as exc:
        messages.image_array(short)
    assert exc.value.reason == "bad_size"
    empty = messages.image(rgb[:0], "rgb8", "cam")
    with pytest.raises(messages.ImageError) as exc:
        messages.image_array(empty)
    assert exc.value.reason == "bad_size"


def test_the_arm_passing_over_the_block_is_refused_as_mostly_hidden_not_misplaced(sim):
    """Mid-reach (step 10 of 20) the forearm sweeps between camera and block: 30 % of it is visible at
    (0.6, 0) and the pose from what is left would be ~7 mm off. At the end of the reach the gripper hovers
    over the block, whose top and front the camera still sees: detected within the bound.
    """
    seen = {}

    def on_step(k: int, s: ArmSimulator) -> None:
        if k in (10, 19):
            seen[k] = (s.block_xy, s.camera_images()[0])

    generate_demonstration("reach", (0.6, 0.0), None, simulator=sim, on_step=on_step)
    truth, rgb = seen[10]
    with pytest.raises(Refusal) as exc:
        detect_block(rgb, CAM)
    assert exc.value.reason == "mostly_hidden"
    sliver = detect_block(rgb, CAM, replace(DetectorSettings(), min_visible=0.01))
    assert sliver.visible_fraction < 0.5 and np.linalg.norm(sliver.xyz[:2] - truth) > 3e-3
    truth, rgb = seen[19]
    hovering = detect_block(rgb, CAM)
    assert np.linalg.norm(hovering.xyz[:2] - truth) <= BOUND_M


def test_depth_placement_is_within_its_measured_bound(sim):
    """With a registered depth image the top face's pixels place the block: within 2.2 mm, the benchmark's
    maximum for the depth method inside the workspace at 320 x 240 (2.16 mm).
    """
    sim.reset()
    errors = []
    for x, y in POSITIONS[::2]:
        sim.set_block(x, y)
        rgb, depth = sim.camera_images(depth=True)
        d = detect_block(rgb, CAM, depth=depth)
        assert d.method == "depth"
        errors.append(np.linalg.norm(d.xyz[:2] - sim.block_xy))
    assert max(errors) <= 0.0022, f"errors {np.round(np.array(errors) * 1e3, 2)} mm"
