"""The scaled-down MobileNetV3-Small of the reference design, for 32x32 CIFAR-10.

Layout follows torchvision's ``mobilenet_v3_small`` (same bottleneck table, SE
squeeze widths, BN eps 1e-3, hard-swish/hard-sigmoid, 576 -> 1024 -> classes head)
with two changes for 32x32 inputs, as in the reference design: the stem
convolution and the first bottleneck use stride 1, so feature maps go
32 -> 16 -> 8 -> 4.
"""
from __future__ import annotations

import torch
from torch import nn


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's channel rounding (keeps the SE widths identical)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# (in, kernel, expanded, out, use_se, activation, stride)
SMALL_CIFAR = [
    (16, 3, 16, 16, True, "RE", 1),   # stride 2 -> 1 for 32x32 inputs
    (16, 3, 72, 24, False, "RE", 2),
    (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1),
    (48, 5, 144, 48, True, "HS", 1),
    (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1),
    (96, 5, 576, 96, True, "HS", 1),
]


def conv_bn_act(cin: int, cout: int, k: int, stride: int, groups: int, act: str | None) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
    ]
    if act == "RE":
        layers.append(nn.ReLU(inplace=False))
    elif act == "HS":
        layers.append(nn.Hardswish())
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale_activation(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return s * x


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, k: int, exp: int, cout: int, use_se: bool, act: str, stride: int) -> None:
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(conv_bn_act(cin, exp, 1, 1, 1, act))
        layers.append(conv_bn_act(exp, exp, k, stride, exp, act))
        if use_se:
            layers.append(SqueezeExcitation(exp, make_divisible(exp // 4, 8)))
        layers.append(conv_bn_act(exp, cout, 1, 1, 1, None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        if self.use_res:
            y = y + x
        return y


class MobileNetV3SmallCIFAR(nn.Module):
    def __init__(self, num_classes: int = 10, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_act(3, 16, 3, 1, 1, "HS")]  # stride 2 -> 1
        for cfg in SMALL_CIFAR:
            layers.append(InvertedResidual(*cfg))
        layers.append(conv_bn_act(96, 576, 1, 1, 1, "HS"))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Sequential(
            nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(dropout), nn.Linear(1024, num_classes)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


# ---------------------------------------------------------------------------------------
# ShuffleNetV2 for 32x32 inputs (the second reference design, a memristive ShuffleNetV2).
#
# torchvision's ``shufflenet_v2_x*`` units (channel split, 1x1 -> depthwise 3x3 -> 1x1 on
# one half, concat, channel shuffle of 2 groups; BN eps 1e-5) with a CIFAR stem: the 3x3
# stem convolution has stride 1 and is followed by a 3x3/2 max pooling, so the stages run
# at 16x16, 8x8 and 4x4 (torchvision's stride-2 stem and pooling would leave 1x1 maps).
# Because the pooling already halved the map, the first unit of stage 2 has stride 1; it
# is still a two-branch "spatial" unit, since it changes the channel count.
# ---------------------------------------------------------------------------------------

SHUFFLENET_WIDTHS = {
    0.5: [24, 48, 96, 192, 1024],
    1.0: [24, 116, 232, 464, 1024],
    1.5: [24, 176, 352, 704, 1024],
    2.0: [24, 244, 488, 976, 2048],
}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        bf = oup // 2
        self.two_branch = stride > 1 or inp != oup
        if self.two_branch:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=False),
            )
        else:
            self.branch1 = nn.Sequential()
        cin2 = inp if self.two_branch else bf
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin2, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=False),
            nn.Conv2d(bf, bf, 3, stride, 1, groups=bf, bias=False), nn.BatchNorm2d(bf),
            nn.Conv2d(bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.two_branch:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2CIFAR(nn.Module):
    def __init__(self, num_classes: int = 10, width: float = 1.0, repeats: tuple[int, int, int] = (4, 8, 4)) -> None:
        super().__init__()
        if width not in SHUFFLENET_WIDTHS:
            raise ValueError(f"width {width}: one of {sorted(SHUFFLENET_WIDTHS)}")
        ch = SHUFFLENET_WIDTHS[width]
        self.conv1 = nn.Sequential(nn.Conv2d(3, ch[0], 3, 1, 1, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU(inplace=False))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages: list[nn.Module] = []
        cin = ch[0]
        for i, (n, cout) in enumerate(zip(repeats, ch[1:4])):
            units = [ShuffleUnit(cin, cout, 1 if i == 0 else 2)]
            units += [ShuffleUnit(cout, cout, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*units))
            cin = cout
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = nn.Sequential(nn.Conv2d(cin, ch[4], 1, 1, 0, bias=False), nn.BatchNorm2d(ch[4]), nn.ReLU(inplace=False))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch[4], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


ARCHITECTURES = {"mobilenetv3": "MobileNetV3SmallCIFAR", "shufflenetv2": "ShuffleNetV2CIFAR"}


def build_model(arch: str = "mobilenetv3", width: float = 1.0, num_classes: int = 10) -> nn.Module:
    """The project's trainable networks by name (``train.py --arch``)."""
    if arch == "mobilenetv3":
        return MobileNetV3SmallCIFAR(num_classes=num_classes)
    if arch == "shufflenetv2":
        return ShuffleNetV2CIFAR(num_classes=num_classes, width=width)
    raise ValueError(f"--arch {arch}: one of {', '.join(ARCHITECTURES)}")
