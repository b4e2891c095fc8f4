"""Mirrors pytorch/tutorials, beginner_source/dcgan_faces_tutorial.py (commit
7d4b657ab2f03a756b525b7b174fc01f41f2e379): "DCGAN Tutorial". The Generator (ConvTranspose2d,
BatchNorm2d, ReLU, Tanh) and Discriminator (Conv2d, LeakyReLU(0.2, inplace=True), Sigmoid),
``weights_init`` applied through ``.apply`` (``classname.find('Conv')``, ``nn.init.normal_``,
``nn.init.constant_``), BCELoss, two Adam optimizers with ``betas=(0.5, 0.999)``, and the
training step: labels from ``torch.full``, ``label.fill_``, ``netD(fake.detach()).view(-1)``,
``errD = errD_real + errD_fake``.

Cut to ``nz=8, ngf=ndf=4`` on 8 synthetic 64x64 colour images; the noise comes with the data
(the tutorial draws it with ``torch.randn``), so both libraries see the same.
"""

import sys

import numpy as np

from harness import check

nc, nz, ngf, ndf = 3, 8, 4, 4


def make_data(rng):
    images = np.tanh(rng.normal(0, 1, (8, nc, 64, 64))).astype(np.float32)
    noise = rng.normal(0, 1, (6, 4, nz, 1, 1)).astype(np.float32)
    return {"images": images, "noise": noise}


def build(torch):
    nn = torch.nn

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

        def forward(self, input):
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

        def forward(self, input):
            return self.main(input)

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    netG, netD = Generator(0), Discriminator(0)
    netG.apply(weights_init)
    netD.apply(weights_init)
    return nn.ModuleDict({"netG": netG, "netD": netD})


def loss_of(torch, nets, data):
    real = torch.from_numpy(data["images"][:4])
    output = nets["netD"](real).view(-1)
    label = torch.full((4,), 1.0, dtype=torch.float)
    return output, torch.nn.BCELoss()(output, label)


def train(torch, nets, data):
    netG, netD = nets["netG"], nets["netD"]
    criterion = torch.nn.BCELoss()
    real_label, fake_label = 1.0, 0.0
    optimizerD = torch.optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=4)
    D_losses = []
    for epoch in range(3):
        for i, batch in enumerate(dataloader, 0):
            netD.zero_grad()
            real_cpu = batch[0]
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            noise = torch.from_numpy(data["noise"][2 * epoch + i])
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            errD = errD_real + errD_fake
            optimizerD.step()

            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            optimizerG.step()
            D_losses.append(errD.item())
    return D_losses


def test_program():
    check(sys.modules[__name__])
