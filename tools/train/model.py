"""A YOLOv8n-style anchor-free detector, written from the published architecture.

Backbone: Conv-BN-SiLU stem and downsamplers with C2f blocks and SPPF; neck: PAN-FPN with C2f;
head: decoupled box (DFL, reg_max 16) and class branches per stride 8, 16, 32. Width 0.25 and depth
0.33 of YOLOv8 give YOLOv8n's layer sizes.

`forward` returns the raw per-level maps while training; `export=True` makes it return the
Ultralytics ONNX layout [B, 4+nc, A]: cx, cy, w, h in input pixels, then sigmoid class scores.
"""

from __future__ import annotations

import math

import torch
from torch import nn

STRIDES = (8, 16, 32)
REG_MAX = 16


class Conv(nn.Module):
    """Conv2d (no bias) + BatchNorm + SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool) -> None:
        super().__init__()
        self.cv1 = Conv(c, c, 3)
        self.cv2 = Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP bottleneck with two convolutions: split, n bottlenecks, concatenate every stage."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class DFL(nn.Module):
    """Distribution focal loss integral: expected value of a softmax over reg_max bins (fixed 1x1 conv)."""

    def __init__(self, c1: int = REG_MAX) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchors(shapes: list[tuple[int, int]], strides: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor centres (grid units, +0.5) [A,2] and their strides [A,1], levels in order, row-major."""
    points, stride_t = [], []
    for (h, w), s in zip(shapes, strides):
        sy = torch.arange(h, device=device, dtype=dtype) + 0.5
        sx = torch.arange(w, device=device, dtype=dtype) + 0.5
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        points.append(torch.stack((xx, yy), -1).view(-1, 2))
        stride_t.append(torch.full((h * w, 1), s, device=device, dtype=dtype))
    return torch.cat(points), torch.cat(stride_t)


class Detect(nn.Module):
    def __init__(self, nc: int, ch: tuple[int, ...]) -> None:
        super().__init__()
        self.nc, self.no = nc, nc + 4 * REG_MAX
        c2, c3 = max(16, ch[0] // 4, REG_MAX * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * REG_MAX, 1)) for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(REG_MAX)
        self.export = False

    def init_bias(self, imgsz: int = 640) -> None:
        for a, b, s in zip(self.cv2, self.cv3, STRIDES):
            a[-1].bias.data[:] = 1.0
            b[-1].bias.data[: self.nc] = math.log(5 / self.nc / (imgsz / s) ** 2)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor] | torch.Tensor:
        outs = [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1) for i, x in enumerate(xs)]
        if not self.export:
            return outs
        b = outs[0].shape[0]
        shapes = [(int(o.shape[2]), int(o.shape[3])) for o in outs]
        anchors, strides = make_anchors(shapes, STRIDES, outs[0].device, outs[0].dtype)
        cat = torch.cat([o.view(b, self.no, -1) for o in outs], 2)
        box, cls = cat.split((4 * REG_MAX, self.nc), 1)
        dist = self.dfl(box)  # [b, 4, A]: left, top, right, bottom in grid units
        lt, rb = dist.chunk(2, 1)
        a = anchors.transpose(0, 1).unsqueeze(0)
        x1y1, x2y2 = a - lt, a + rb
        cxcy, wh = (x1y1 + x2y2) / 2, x2y2 - x1y1
        box_px = torch.cat((cxcy, wh), 1) * strides.transpose(0, 1).unsqueeze(0)
        return torch.cat((box_px, cls.sigmoid()), 1)


class YoloV8(nn.Module):
    """YOLOv8 detection model at width `w`, depth `d` (0.25, 0.33 = "n")."""

    def __init__(self, nc: int, w: float = 0.25, d: float = 0.33, max_ch: int = 1024) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return int(math.ceil(min(c, max_ch) * w / 8) * 8)

        def n(k: int) -> int:
            return max(round(k * d), 1)

        c1, c2, c3, c4, c5 = ch(64), ch(128), ch(256), ch(512), ch(1024)
        self.b0, self.b1 = Conv(3, c1, 3, 2), Conv(c1, c2, 3, 2)
        self.b2 = C2f(c2, c2, n(3), True)
        self.b3, self.b4 = Conv(c2, c3, 3, 2), C2f(c3, c3, n(6), True)
        self.b5, self.b6 = Conv(c3, c4, 3, 2), C2f(c4, c4, n(6), True)
        self.b7, self.b8 = Conv(c4, c5, 3, 2), C2f(c5, c5, n(3), True)
        self.b9 = SPPF(c5, c5, 5)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(c5 + c4, c4, n(3))
        self.h15 = C2f(c4 + c3, c3, n(3))
        self.h16 = Conv(c3, c3, 3, 2)
        self.h18 = C2f(c3 + c4, c4, n(3))
        self.h19 = Conv(c4, c4, 3, 2)
        self.h21 = C2f(c4 + c5, c5, n(3))
        self.detect = Detect(nc, (c3, c4, c5))
        self.nc = nc
        self.detect.init_bias()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor] | torch.Tensor:
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat((self.up(p5), p4), 1))
        h15 = self.h15(torch.cat((self.up(h12), p3), 1))
        h18 = self.h18(torch.cat((self.h16(h15), h12), 1))
        h21 = self.h21(torch.cat((self.h19(h18), p5), 1))
        return self.detect([h15, h18, h21])


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gflops(model: nn.Module, imgsz: int = 640) -> float:
    """Multiply-accumulates x 2 of one forward pass at imgsz x imgsz, counted from conv shapes (Ultralytics' convention)."""
    total = 0

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total += 2 * k * out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, imgsz, imgsz, device=next(model.parameters()).device))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total / 1e9
