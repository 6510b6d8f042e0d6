"""One module per ``playalter`` subcommand; each defines ``register(subparsers)``."""


def add_input_option(parser, help: str) -> None:
    """``--input/-i NAME=VALUE``, repeatable: the binding syntax of ``runner.bindings.parse_cli_bindings``."""
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help=help)
