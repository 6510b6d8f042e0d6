"""Option values shared by the swap engine, the node widgets, the CLI and the HTTP schemas; importing this
module is free."""

METHODS = ("auto", "inswapper", "classical")
PAIRING_MODES = ("index", "order", "identity")
COLOR_MODES = ("lab", "histogram", "none")
BLEND_MODES = ("feather", "poisson")
RESTORE_MODELS = ("gfpgan_1.4", "codeformer", "gpen_bfr_512", "gpen_bfr_1024", "restoreformer_plus_plus")
SWAP_MODELS = ("auto", "inswapper_128", "hyperswap_1a_256", "hyperswap_1b_256", "hyperswap_1c_256", "reswapper_256")
OUTPUT_SIZES = (128, 256, 512)  # side of the swapped face; above the model's own size by pixel boost
