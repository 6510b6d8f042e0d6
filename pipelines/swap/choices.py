"""Option values shared by the swap engine, the node widgets, the CLI and the HTTP schemas; importing this
module is free."""

METHODS = ("auto", "inswapper", "classical")
PAIRING_MODES = ("index", "order", "identity")
COLOR_MODES = ("lab", "histogram", "none")
BLEND_MODES = ("feather", "poisson")
