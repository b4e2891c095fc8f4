"""``convlab.nn.functional``: stateless forms of the layers, as ``torch.nn.functional``."""

from .conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                   fold, unfold)
from .padding import pad
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,
                      adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d,
                      avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d,
                      max_pool2d, max_pool3d, max_unpool1d, max_unpool2d, max_unpool3d)
from .activation import (elu, elu_, gelu, hardsigmoid, hardswish, hardtanh, hardtanh_,
                         leaky_relu, leaky_relu_, log_softmax, mish, prelu, relu, relu6, relu_,
                         sigmoid, silu, softmax, softplus, tanh)
from .dropout import dropout, dropout1d, dropout2d, dropout3d
from .encoding import one_hot
from .linear import linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                   huber_loss, kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .distance import cosine_similarity, normalize, pairwise_distance
from .loss_from_ops import (cosine_embedding_loss, gaussian_nll_loss, hinge_embedding_loss,
                            margin_ranking_loss, multi_margin_loss, multilabel_soft_margin_loss,
                            poisson_nll_loss, soft_margin_loss, triplet_margin_loss)
from .normalization import batch_norm, group_norm, instance_norm, layer_norm
from .upsampling import interpolate, pixel_shuffle, pixel_unshuffle
from .vision import affine_grid, grid_sample
