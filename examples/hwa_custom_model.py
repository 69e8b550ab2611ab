"""Noise-aware retraining of your own model on your own tensors with xbar.hwa, in a plain PyTorch
loop. A small MLP classifies synthetic 8-class data; trained in float and read one year after
programming a PCM chip (conductance drift, no drift compensation) it loses accuracy; a few
hundred xbar.hwa steps, each on a fresh training chip drifted to one year, win it back. Accuracy
on the evaluation chips 0, 1, 2 (never used in training) before and after, mean +- std.

    PYTHONPATH=python /usr/bin/python3 examples/hwa_custom_model.py [policy.toml]
"""
import statistics
import sys

import torch

import xbar
import xbar.hwa

torch.manual_seed(0)
policy = sys.argv[1] if len(sys.argv) > 1 else "data/policies/pcm_adc6.toml"
YEAR_S = 3.15576e7  # read time after programming


class Net(torch.nn.Module):  # any nn.Module
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(32, 64), torch.nn.Linear(64, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


# The user's data set as tensors (here synthetic: 8 Gaussian clusters in 32 dimensions).
centers = torch.randn(8, 32) * 0.4
def make(n: int):
    y = torch.randint(0, 8, (n,))
    return centers[y] + torch.randn(n, 32), y
x_train, y_train = make(4096)
x_test, y_test = make(2048)
batches = lambda: zip(x_train.split(128), y_train.split(128))


def on_chip(m: torch.jit.ScriptModule) -> list:  # test accuracy (%) on chips 0, 1, 2 after a year
    acc = []
    for chip in range(3):
        xbar.program(m, chip)
        xbar.drift(m, YEAR_S)
        xbar.calibrate(m, x_train[:512])  # the policy's calibrated ADC: ranges from training data
        with torch.no_grad():
            acc.append(100.0 * (m(x_test).argmax(1) == y_test).float().mean().item())
    return acc


def show(name: str, acc: list) -> None:
    print("%s: %.2f +- %.2f %% (chips 0-2: %s)" % (name, statistics.mean(acc), statistics.stdev(acc),
                                                  ", ".join("%.2f" % a for a in acc)))


net = Net()  # 1. ordinary float training
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for epoch in range(10):
    for x, y in batches():
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
with torch.no_grad():
    print("float model read exactly: %.2f %%" % (100.0 * (net(x_test).argmax(1) == y_test).float().mean().item()))
before = on_chip(xbar.convert(net, policy)[0])
show("float-trained, chip after 1 year", before)

# 2. noise-aware retraining: a fresh chip every step, drifted to the time the model will be read
hw = xbar.hwa.HWA(net, policy, t_train_s=YEAR_S, seed=1)
hw.init_ranges(x_train[:128])
opt = torch.optim.Adam(hw.param_groups(lr=1e-3, range_lr=1e-2))
step = 0
for epoch in range(5):
    for x, y in batches():
        loss = torch.nn.functional.cross_entropy(hw(x, step=step), y)
        opt.zero_grad(); loss.backward(); opt.step()
        hw.constrain()  # weight clipping, positive ranges
        step += 1
after = on_chip(hw.analog())  # the retrained float weights converted with the policy with learned ranges
show("HWA-retrained, chip after 1 year", after)
net.load_state_dict(hw.state_dict())  # the retrained weights back in the user's module
if statistics.mean(after) <= statistics.mean(before):
    sys.exit("HWA did not improve the on-chip accuracy")
