"""Convert a torchvision ResNet-18 in process and compare it on a PCM chip with float (CTest runs it).
Usage: /usr/bin/python3 examples/convert_torchvision.py [POLICY.toml]   (with python/ on PYTHONPATH)"""
import sys, torch, torchvision, xbar

torch.manual_seed(0)
net = torchvision.models.resnet18(num_classes=10).eval()           # untrained: no download here
chip, report = xbar.convert(net, sys.argv[1] if len(sys.argv) > 1 else "data/policies/default.toml")
print(len(report.converted), "operators on the chip,", len(report.unconverted), "left in float")  # report.table: why
xbar.program(chip, 0)
xbar.calibrate(chip, torch.randn(8, 3, 64, 64))                     # ADC ranges from calibration inputs
x = torch.randn(4, 3, 64, 64)
with torch.no_grad():
    y, ref = chip(x), net(x)
print("relative output error on chip 0: %.4f" % ((y - ref).norm() / ref.norm()).item())
