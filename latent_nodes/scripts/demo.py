"""`latent-nodes demo` and `ros2 run latent_nodes demo`: the entry point of the demo (``latent_nodes.demo``).

The demo itself (the driver, the running graph, one module per scenario) is the package
``latent_nodes.demo``; this module only names its ``main``, as the other commands' modules here do.
"""

from __future__ import annotations

from latent_nodes.demo.command import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
