"""Neural-network layers and their functional forms (``convlab.nn.functional``)."""

from . import functional
