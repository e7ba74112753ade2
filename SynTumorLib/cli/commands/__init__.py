"""One module per top-level sub-command. Each defines ``register(subparsers)``; ``cli.main`` finds
them automatically, so adding a command never edits a shared file. Import heavy packages (torch,
MONAI) inside the command's run function, not at module level, to keep ``syntumor --help`` fast.
"""
