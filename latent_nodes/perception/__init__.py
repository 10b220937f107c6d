"""Perception from camera images, without ROS: where the red block is, from an RGB (and depth) image.

``camera_geometry`` holds what relates pixels to the table frame (a camera's pose, rotations as URDF
writes them, a pinhole's intrinsics checked); ``block_detector`` finds the block by colour with OpenCV
and places it on the table, or refuses with a named reason. The perception node
(``latent_nodes.nodes.perception_node``, source ``camera``) feeds them ROS images; the benchmark
``benchmarks/camera_perception.py`` feeds them the simulator's rendered frames. docs/camera.md.
"""
