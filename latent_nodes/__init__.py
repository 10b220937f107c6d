"""latent_nodes: complete a robot behaviour from a glimpse of it.

The package root is ROS-free: ``config``, ``pvrnn``, ``embedding``, ``regularizer``, ``latent_model``,
``training``, ``inference``, ``completion``, ``normalization``, ``checkpoint``, ``dataset`` and ``sim``
import without rclpy. Only ``latent_nodes.nodes`` needs ROS 2.
"""

__version__ = "0.1.0"
