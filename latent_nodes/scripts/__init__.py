"""Entry points: each module has ``main(argv)`` and is reached through ``latent-nodes <command>``."""
