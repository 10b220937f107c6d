"""Rendering: pictures that really show the arm, the table and the red block (pixel statistics, not files).

Needs an OpenGL context (OSMesa on a machine without a display: libosmesa6 and MUJOCO_GL=osmesa); the
tests skip with the reason when there is none.
"""

import numpy as np
import pytest
from matplotlib.image import imread

from latent_nodes.config import SimConfig
from latent_nodes.scripts import render as render_command
from latent_nodes.sim.demonstrations import train_test_positions
from latent_nodes.sim.render import plot_positions, render_filmstrip
from latent_nodes.sim.simulator import ArmSimulator, RenderUnavailable


@pytest.fixture(scope="module")
def sim():
    s = ArmSimulator()
    try:
        s.render(32, 24)
    except RenderUnavailable as exc:
        s.close()
        pytest.skip(f"offscreen rendering unavailable: {exc}")
    yield s
    s.close()


def red_pixels(img: np.ndarray) -> np.ndarray:
    """Mask of the block's saturated red (works for uint8 and for matplotlib's float images)."""
    img = img[..., :3].astype(np.float64)
    if img.max() <= 1.0:
        img = img * 255
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (r > 120) & (g < 60) & (b < 60)


def test_render_shows_a_scene_with_the_red_block(sim):
    sim.reset()
    sim.set_block(0.5, -0.1)
    img = sim.render()
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    assert img.std() > 20  # not blank, not one flat colour
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 500  # shaded geometry, not a cleared buffer
    assert 10 < red_pixels(img).sum() < 0.05 * img.shape[0] * img.shape[1]  # the block, and only a block


def test_render_follows_the_world(sim):
    sim.reset()
    sim.set_block(0.4, 0.15)
    left = red_pixels(sim.render())
    sim.set_block(0.55, -0.15)
    right = red_pixels(sim.render())
    # The block moved across the image: the red blobs' centres are far apart.
    cl, cr = np.argwhere(left).mean(axis=0), np.argwhere(right).mean(axis=0)
    assert np.linalg.norm(cl - cr) > 20
    side = sim.render(160, 120, camera="side")
    assert side.shape == (120, 160, 3) and side.std() > 20
    with pytest.raises(ValueError, match="render size"):
        sim.render(5000, 10)


def test_filmstrip_is_a_real_picture(sim, tmp_path):
    path = render_filmstrip("reach_circle", (0.5, -0.1), tmp_path / "strip.png", n_frames=4, width=160, height=120)
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] >= 120 and img.shape[1] >= 5 * 160  # 4 frames + the path panel
    assert img[..., :3].std() > 0.1
    assert red_pixels(img).sum() > 40  # the block in the frames and in the top-view panel


def test_positions_plot_like_fig3(tmp_path):
    train, test = train_test_positions()
    img = imread(plot_positions(train, test, tmp_path / "positions.png", SimConfig()))[..., :3]
    dark = (img.max(axis=2) < 0.2).mean()
    white = (img.min(axis=2) > 0.95).mean()
    assert dark > 0.01  # the black training squares (and the base)
    assert 0.05 < white < 0.9  # a drawn figure, not an empty canvas


def test_render_command_writes_all_pictures(sim, tmp_path, capsys):
    rc = render_command.main(["--out-dir", str(tmp_path), "--frames", "2", "--size", "120", "90"])
    assert rc == 0
    for name in ("positions.png", "filmstrip_reach.png", "filmstrip_reach_circle.png"):
        assert imread(tmp_path / name)[..., :3].std() > 0.05
    assert render_command.main(["--out-dir", str(tmp_path), "--block", "2.0", "0.0", "--no-positions"]) == 2
    assert "off the table" in capsys.readouterr().err
