"""Packaging for latent_nodes: one setup that serves colcon (ament_python) and pip alike."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "latent_nodes"

# Executables `ros2 run latent_nodes <name>` lists; setup.cfg puts them under lib/latent_nodes.
NODE_SCRIPTS = [
    f"sim = {PACKAGE}.nodes.sim_node:main",
    f"perception = {PACKAGE}.nodes.perception_node:main",
    f"inference = {PACKAGE}.nodes.inference_node:main",
    f"commander = {PACKAGE}.nodes.commander_node:main",
    f"markers = {PACKAGE}.nodes.markers_node:main",
    f"train = {PACKAGE}.scripts.train:main",
    f"demo = {PACKAGE}.scripts.demo:main",
    f"record = {PACKAGE}.nodes.record_node:main",
]
# One command for people who installed with pip and have no `ros2` CLI.
CLI_SCRIPTS = [f"latent-nodes = {PACKAGE}.cli:main"]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["sim/*.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/models", glob("models/*")),
        (f"share/{PACKAGE}/coppeliasim", glob("coppeliasim/*")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    python_requires=">=3.10,<3.13",
    install_requires=[
        "numpy",
        "torch==2.13.0",
        "pyyaml",
        "matplotlib",
        "mujoco",
        "tqdm",
        "scipy",
        "setuptools",
        # the perception node's camera source finds the block in images with OpenCV
        "opencv-python-headless",
    ],
    extras_require={
        # The ROS 2 Kilted wheels on PyPI, for machines without a system ROS 2.
        "ros": [
            "ros-rclpy[fastrtps]",
            "ros-sensor-msgs",
            "ros-trajectory-msgs",
            "ros-geometry-msgs",
            "ros-std-msgs",
            "ros-std-srvs",
            "ros-diagnostic-msgs",
            "ros-visualization-msgs",
        ],
        # Reading rosbag2 recordings, the Table I reference rows and the study runner (Ray).
        "experiments": ["rosbags", "scikit-learn", "movement_primitives", "gmr", "ray"],
        # lupa runs the CoppeliaSim bridge's Lua against stand-ins of the simROS2 API in the tests;
        # yourdfpy computes the URDF's forward kinematics independently of MuJoCo; colcon builds the package
        # for the launch tests (which also need the ROS 2 launch tooling, docs/nodes.md); xacro expands public
        # robot descriptions for the robot-description reader's tests.
        "test": ["pytest", "ruff", "lupa", "yourdfpy", "xacro", "colcon-common-extensions"],
    },
    zip_safe=True,
    maintainer="latent_nodes maintainers",
    maintainer_email="maintainers@latent-nodes.example",
    description="Complete a robot behaviour from a glimpse: conformal latent charts for a deterministic PVRNN.",
    license="Apache-2.0",
    entry_points={"console_scripts": NODE_SCRIPTS + CLI_SCRIPTS},
)
