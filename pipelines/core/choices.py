"""Option values shared by the engine and the node widgets; importing this module is free."""

BACKENDS = ("auto", "centerface", "buffalo_l")
ORDERS = ("largest", "left_to_right", "right_to_left", "top_to_bottom", "confidence")
MASK_SHAPES = ("box", "ellipse")
REPORT_MESH_FORMATS = ("none", "json", "obj")  # the face report's metric mesh: left out, vertices + triangles, OBJ text
