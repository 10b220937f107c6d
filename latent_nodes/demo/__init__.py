"""The demo: the launch file's graph in one process, driven through scenarios (``latent-nodes demo``).

One module per part, imported in this order and never back:

- ``driver``: the demo's own node, which places blocks, asks perception and records what comes back;
- ``graph``: the launched graph's nodes (and the driver) in one process, with the demo's parameters;
- ``reference``: the behaviours to run and the scripted demonstrations they are compared with;
- ``glimpse``, ``moved``, ``recognize``: one module per scenario, each with its ``run_*`` entry;
- ``command``: the command line (``--scenario``, ``--perception``, ...), which picks the scenario.

``latent_nodes/scripts/demo.py`` is the entry point of ``latent-nodes demo`` and ``ros2 run latent_nodes
demo``; it only calls ``command.main``.
"""
