#!/usr/bin/python3
"""Writes a scripted torchvision ResNet-18 (random weights, 10 classes, eval mode) for
`xbar bench model`: python3 tools/make_resnet18.py OUT.pt. Exit code 3 when torchvision is missing."""
import sys

import torch

try:
    import torchvision
except ImportError:
    sys.exit(3)

torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10).eval()
torch.jit.script(m).save(sys.argv[1])
