"""Option values shared by the swap engine, the node widgets, the CLI and the HTTP schemas; importing this
module is free."""

METHODS = ("auto", "inswapper", "classical")
PAIRING_MODES = ("index", "order", "identity")
COLOR_MODES = ("lab", "histogram", "none")
BLEND_MODES = ("feather", "poisson")
RESTORE_MODELS = ("gfpgan_1.4", "codeformer", "gpen_bfr_512", "gpen_bfr_1024", "restoreformer_plus_plus")
