"""latent_nodes: complete a robot behaviour from a glimpse of it.

Everything but ``latent_nodes.nodes`` is ROS-free and imports without rclpy: ``config``, ``model``
(the PVRNN, the charts, the regularizer, training, the model file), ``inference`` (the search for xi,
the completer, online estimation, recognition, the domain), ``data`` (datasets, bags), ``robot``
(trajectories, limits, splicing), ``sim``, ``study`` and ``evaluation``/``baselines``
(docs/architecture.md has the map).
"""

__version__ = "0.1.0"
