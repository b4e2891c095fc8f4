"""draw_feature_maps refuses a number of maps it cannot show (``features --max-maps 0`` divided
by zero)."""

import numpy as np
import pytest

from convlab.vision import draw_feature_maps


@pytest.mark.parametrize("max_maps", [0, -1, 1.5, True])
def test_max_maps_must_be_a_positive_int(max_maps):
    maps = [("conv1", "Conv2d", np.zeros((2, 4, 4)))]
    with pytest.raises(ValueError, match="max_maps \\(--max-maps\\) must be a positive number"):
        draw_feature_maps(np.zeros((8, 8), np.uint8), maps, max_maps)
