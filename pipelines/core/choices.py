"""Option values shared by the engine and the node widgets; importing this module is free."""

BACKENDS = ("auto", "centerface", "buffalo_l")
ORDERS = ("largest", "left_to_right", "right_to_left", "top_to_bottom", "confidence")
MASK_SHAPES = ("box", "ellipse")
REPORT_MESH_FORMATS = ("none", "json", "obj")  # the face report's metric mesh: left out, vertices + triangles, OBJ text
# Which faces a face-by-reference choice acts on: every face, every face but the reference people's (e.g. the
# people who consented to being shown), or only the reference people's.
PEOPLE = ("everyone", "everyone_except", "only")
# The identity model that embeds faces: ArcFace when buffalo_l is installed, else dlib (auto), or one of them.
IDENTITY_MODELS = ("auto", "arcface", "dlib")
