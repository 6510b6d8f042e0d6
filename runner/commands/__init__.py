"""One module per ``playalter`` subcommand; each defines ``register(subparsers)``."""
