"""Mirrors pytorch/examples, fast_neural_style/neural_style/transformer_net.py (commit
502e45deeaa93edcc3ebfca0fba5567ec88c0ec3): ``TransformerNet``: ``ConvLayer`` (ReflectionPad2d
then Conv2d), ``InstanceNorm2d(affine=True)``, five ``ResidualBlock``s and ``UpsampleConvLayer``
(``F.interpolate(mode='nearest', scale_factor=...)`` then a convolution), trained with Adam as
neural_style.py does.

The loss network (a pretrained VGG-16) is replaced by the content term alone, an MSE to a
target image; the channel counts are cut by 4, on 4 synthetic 32x32 images.
"""

import sys

import numpy as np

from harness import check


def make_data(rng):
    content = rng.random((4, 3, 32, 32)).astype(np.float32) * 255
    return {"content": content, "target": np.clip(content * 0.8 + 20, 0, 255).astype(np.float32)}


def build(torch):
    nn = torch.nn

    class ConvLayer(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride):
            super().__init__()
            reflection_padding = kernel_size // 2
            self.reflection_pad = nn.ReflectionPad2d(reflection_padding)
            self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            return self.conv2d(self.reflection_pad(x))

    class ResidualBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in1 = nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in2 = nn.InstanceNorm2d(channels, affine=True)
            self.relu = nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            return out + residual

    class UpsampleConvLayer(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
            super().__init__()
            self.upsample = upsample
            reflection_padding = kernel_size // 2
            self.reflection_pad = nn.ReflectionPad2d(reflection_padding)
            self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            x_in = x
            if self.upsample:
                x_in = nn.functional.interpolate(x_in, mode="nearest",
                                                 scale_factor=self.upsample)
            return self.conv2d(self.reflection_pad(x_in))

    class TransformerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = ConvLayer(3, 8, kernel_size=9, stride=1)
            self.in1 = nn.InstanceNorm2d(8, affine=True)
            self.conv2 = ConvLayer(8, 16, kernel_size=3, stride=2)
            self.in2 = nn.InstanceNorm2d(16, affine=True)
            self.conv3 = ConvLayer(16, 32, kernel_size=3, stride=2)
            self.in3 = nn.InstanceNorm2d(32, affine=True)
            self.res1 = ResidualBlock(32)
            self.res2 = ResidualBlock(32)
            self.res3 = ResidualBlock(32)
            self.res4 = ResidualBlock(32)
            self.res5 = ResidualBlock(32)
            self.deconv1 = UpsampleConvLayer(32, 16, kernel_size=3, stride=1, upsample=2)
            self.in4 = nn.InstanceNorm2d(16, affine=True)
            self.deconv2 = UpsampleConvLayer(16, 8, kernel_size=3, stride=1, upsample=2)
            self.in5 = nn.InstanceNorm2d(8, affine=True)
            self.deconv3 = ConvLayer(8, 3, kernel_size=9, stride=1)
            self.relu = nn.ReLU()

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            y = self.res1(y)
            y = self.res2(y)
            y = self.res3(y)
            y = self.res4(y)
            y = self.res5(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            return self.deconv3(y)

    return TransformerNet()


def loss_of(torch, transformer, data):
    y = transformer(torch.from_numpy(data["content"][:2]))
    return y, torch.nn.MSELoss()(y, torch.from_numpy(data["target"][:2]))


def train(torch, transformer, data):
    optimizer = torch.optim.Adam(transformer.parameters(), 1e-2)
    mse_loss = torch.nn.MSELoss()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["content"]),
                                             torch.from_numpy(data["target"]))
    losses = []
    for e in range(2):
        transformer.train()
        for batch_id, (x, target) in enumerate(torch.utils.data.DataLoader(dataset, 2)):
            optimizer.zero_grad()
            y = transformer(x)
            content_loss = 1e-3 * mse_loss(y, target)
            content_loss.backward()
            optimizer.step()
            losses.append(content_loss.item())
    return losses


def test_program():
    check(sys.modules[__name__])
