"""PyTorch reference for the speed benchmark (bench/train_bench.ts).

Builds MobileFaceNet as table 1 of the paper (arXiv:1804.07573) describes it,
the same layers as src/model/architecture.ts: batch norm after every conv,
PReLU except on the linear bottleneck projections, the 7x7 global depthwise
conv and the 1x1 embedding conv. It then times, on the CPU:

- a training step: forward, ArcFace loss over a class-centre matrix,
  backward, and an SGD step with momentum, at each batch size of --train-batch;
- inference in eval mode with batch norm folded into the convs, at
  --infer-batch.

It prints one JSON object on stdout. The benchmark compares TF.js with it in
the same run; the pipeline never imports it.

Usage: /usr/bin/python3 bench/pytorch_mobilefacenet.py --threads 2
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

# (expansion, output channels, repeats, first stride): table 1.
STAGES = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]


def same_padding(kernel):
    """Padding of an odd kernel that keeps the side at stride 1.

    At stride 2 on an even side, TensorFlow's `same` pads one pixel less on
    the top and left than this; the cost is the same.
    """
    return kernel // 2


class ConvUnit(nn.Sequential):
    """Conv, batch norm, and PReLU unless the unit is linear."""

    def __init__(self, cin, cout, kernel, stride, depthwise=False, prelu=True, padding=None):
        pad = same_padding(kernel) if padding is None else padding
        layers = [
            nn.Conv2d(cin, cout, kernel, stride, pad, groups=cin if depthwise else 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if prelu:
            layers.append(nn.PReLU(cout))
        super().__init__(*layers)


class Bottleneck(nn.Module):
    def __init__(self, cin, cout, expansion, stride):
        super().__init__()
        hidden = cin * expansion
        self.body = nn.Sequential(
            ConvUnit(cin, hidden, 1, 1),
            ConvUnit(hidden, hidden, 3, stride, depthwise=True),
            ConvUnit(hidden, cout, 1, 1, prelu=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    def __init__(self, input_size=112, embedding=128):
        super().__init__()
        layers = [ConvUnit(3, 64, 3, 2), ConvUnit(64, 64, 3, 1, depthwise=True)]
        channels = 64
        for expansion, cout, repeats, stride in STAGES:
            for r in range(repeats):
                layers.append(Bottleneck(channels, cout, expansion, stride if r == 0 else 1))
                channels = cout
        layers.append(ConvUnit(channels, 512, 1, 1))
        side = input_size // 16
        layers.append(ConvUnit(512, 512, side, 1, depthwise=True, prelu=False, padding=0))
        layers.append(ConvUnit(512, embedding, 1, 1, prelu=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).flatten(1)


def arcface_loss(embeddings, centres, labels, scale, margin):
    """ArcFace (Deng et al. 2019): cos(theta + m) on the target class."""
    cosine = F.linear(F.normalize(embeddings), F.normalize(centres)).clamp(-1 + 1e-7, 1 - 1e-7)
    target = cosine.gather(1, labels[:, None])
    sine = torch.sqrt(1 - target * target)
    with_margin = target * math.cos(margin) - sine * math.sin(margin)
    logits = cosine.scatter(1, labels[:, None], with_margin) * scale
    return F.cross_entropy(logits, labels)


def fold_batch_norm(module):
    """Replaces each Conv2d + BatchNorm2d pair by one conv with a bias."""
    for name, child in module.named_children():
        if isinstance(child, ConvUnit):
            conv, bn = child[0], child[1]
            std = torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                groups=conv.groups,
                bias=True,
            )
            fused.weight.data = conv.weight.data * (bn.weight / std).reshape(-1, 1, 1, 1)
            fused.bias.data = bn.bias - bn.running_mean * bn.weight / std
            child[0] = fused
            child[1] = nn.Identity()
        else:
            fold_batch_norm(child)
    return module


def time_training(batch, args):
    torch.manual_seed(args.seed)
    model = MobileFaceNet(args.input_size, args.embedding)
    centres = nn.Parameter(torch.randn(args.classes, args.embedding))
    optimizer = torch.optim.SGD(
        list(model.parameters()) + [centres], lr=0.01, momentum=0.9, weight_decay=4e-5
    )
    images = torch.randn(batch, 3, args.input_size, args.input_size)
    labels = torch.randint(0, args.classes, (batch,))
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = arcface_loss(model(images), centres, labels, args.scale, args.margin)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    steps = 0
    start = time.perf_counter()
    while steps < args.min_steps or time.perf_counter() - start < args.min_seconds:
        step()
        steps += 1
    seconds = time.perf_counter() - start
    return {"batch": batch, "steps": steps, "seconds": seconds, "images_per_second": batch * steps / seconds}


def time_inference(batch, args):
    torch.manual_seed(args.seed)
    model = fold_batch_norm(MobileFaceNet(args.input_size, args.embedding).eval())
    images = torch.randn(batch, 3, args.input_size, args.input_size)
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(images)
        calls = 0
        start = time.perf_counter()
        while calls < args.min_steps or time.perf_counter() - start < args.min_seconds:
            model(images)
            calls += 1
        seconds = time.perf_counter() - start
    return {"batch": batch, "calls": calls, "seconds": seconds, "images_per_second": batch * calls / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=64.0)
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--train-batch", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--infer-batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min-steps", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    result = {
        "framework": "pytorch",
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "train": [time_training(batch, args) for batch in args.train_batch],
        "infer": time_inference(args.infer_batch, args),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
