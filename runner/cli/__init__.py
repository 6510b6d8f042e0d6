"""The ``playalter`` command: one module per subcommand in ``commands/``."""
