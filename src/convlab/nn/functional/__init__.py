"""``convlab.nn.functional``: stateless forms of the layers, as ``torch.nn.functional``."""
