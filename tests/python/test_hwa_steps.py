"""The pieces of xbar.hwa (python/xbar/hwa.py) on a small model, each against its definition:
training chips, the training policy, weight clipping, learned ranges, the exported policy and float
model, and the errors of bad use. Seconds."""
import os
import re
import sys
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("XBAR_SOURCE", os.path.normpath(os.path.join(HERE, "..", "..")))
XBAR_TORCH_LIB = os.path.abspath(os.environ.get("XBAR_TORCH_LIB", os.path.join(SOURCE, "build", "libxbar_torch.so")))
sys.path.insert(0, os.path.join(SOURCE, "python"))
import xbar  # noqa: E402
import xbar.hwa  # noqa: E402

xbar.load(XBAR_TORCH_LIB)
PCM = os.path.join(SOURCE, "data", "policies", "pcm_adc6.toml")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = torch.nn.Linear(16, 32), torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def one_step(hw, x, step=0):
    opt = torch.optim.SGD(hw.param_groups(lr=0.5, range_lr=0.1))
    loss = hw(x, step=step).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


class HwaStepsTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(1)
        self.x = torch.randn(64, 16)

    def test_training_chips_are_never_evaluation_chips(self):
        # DESIGN.md: 2^40 + (seed mod 2^20) 2^20 + step
        for seed, step in [(1, 0), (7, 123), (2**20 + 3, 5)]:
            self.assertEqual(xbar.hwa.train_chip(seed, step), 2**40 + (seed % 2**20) * 2**20 + step)
        hw = xbar.hwa.HWA(Net(), PCM, seed=3, chip_every=4)
        self.assertEqual([hw.chip(s) for s in (0, 3, 4, 9)], [xbar.hwa.train_chip(3, k) for k in (0, 0, 1, 2)])

    def test_training_policy_sets_drift_time_and_read_noise(self):
        hw = xbar.hwa.HWA(Net(), PCM, t_train_s=86400.0, read_noise=False)
        for _, layer in xbar.layers(hw.module):
            cfg = layer.config()
            self.assertRegex(cfg, r"t_inference_s = 86400(\.0*)?\n")
            self.assertRegex(cfg, r"read_noise_scale = 0(\.0*)?\n")
        # the exported policy is the evaluation policy: its drift time and read noise as given
        self.assertNotIn("86400", hw.policy().split("[[override]]")[0])

    def test_clipping_fixed_and_sigma(self):
        hw = xbar.hwa.HWA(Net(), PCM, clip="fixed", clip_value=0.05, learn_ranges=False)
        one_step(hw, self.x)
        hw.constrain()
        for w in hw.weights:
            self.assertLessEqual(w.abs().max().item(), torch.tensor(0.05).item())  # 0.05 in float32
        hw = xbar.hwa.HWA(Net(), PCM, clip="sigma", clip_value=1.0, learn_ranges=False)
        with torch.no_grad():
            limits = [w.std().item() for w in hw.weights]
            expected = [w.clamp(-c, c) for w, c in zip(hw.weights, limits)]
        hw.constrain()
        for w, e in zip(hw.weights, expected):
            self.assertTrue(torch.equal(w.detach(), e))

    def test_learned_ranges_train_and_export_as_static_dac_ranges(self):
        hw = xbar.hwa.HWA(Net(), PCM)
        with self.assertRaises(RuntimeError):
            hw.param_groups()
        hw.init_ranges(self.x)
        r0 = [r.item() for r in hw.ranges()]
        self.assertEqual(len(r0), 2)
        # initial range: the 99.9th percentile of |x| at fc1's input (layer_state.h)
        self.assertAlmostEqual(r0[[l.name() for l in hw.trained_layers].index("fc1")],
                               torch.quantile(self.x.abs().flatten().double(), 0.999).item(), delta=0.05 * r0[0])
        one_step(hw, self.x)
        with torch.no_grad():
            hw.ranges()[0].fill_(-1.0)
        hw.constrain()
        self.assertEqual(hw.ranges()[0].item(), 1e-6)
        r = {l.name(): l.input_range().item() for l in hw.trained_layers}
        text = hw.policy()
        rules = re.findall(r"match = '([^']+)'\s*\[override.dac\]\s*range = 'static'\s*static_range = (\S+)", text)
        self.assertEqual({m: float(v) for m, v in rules}, r)
        m, report = xbar.convert(hw.export_float(), text)  # the exported policy parses and converts
        self.assertEqual(len(report.converted), 2)

    def test_export_float_carries_trained_weights_and_leaves_the_input(self):
        net = Net()
        before = {k: v.clone() for k, v in net.state_dict().items()}
        hw = xbar.hwa.HWA(net, PCM)
        hw.init_ranges(self.x)
        one_step(hw, self.x)
        exported = dict(hw.export_float().named_parameters())
        trained = hw.state_dict()
        self.assertEqual(sorted(exported), sorted(trained))
        for k in trained:
            self.assertTrue(torch.equal(exported[k], trained[k]))
        self.assertFalse(torch.equal(trained["fc1.weight"], before["fc1.weight"]))
        for k, v in net.state_dict().items():
            self.assertTrue(torch.equal(v, before[k]))

    def test_export_float_refuses_mismatched_names_and_values(self):
        # the op pairs names[i] with values[i]: lists of unequal length or a value whose shape is not
        # its parameter's are errors naming the lengths or the parameter and both shapes
        hw = xbar.hwa.HWA(Net(), PCM)
        data = torch.frombuffer(bytearray(hw._float_bytes), dtype=torch.uint8)
        names = [n for n, _ in hw.module.named_parameters()]
        values = [p.detach() for _, p in hw.module.named_parameters()]
        self.assertEqual(len(names), 4)
        with self.assertRaisesRegex(RuntimeError, "4 parameter names but 3 values"):
            torch.ops.xbar.hwa_export_float(data, names, values[:3])
        with self.assertRaisesRegex(RuntimeError, "3 parameter names but 4 values"):
            torch.ops.xbar.hwa_export_float(data, names[:3], values)
        swapped = [values[0], values[1], values[0], values[3]]  # fc2.weight given fc1.weight's [32, 16]
        with self.assertRaisesRegex(RuntimeError, r"fc2\.weight.*\[32, 16\].*\[4, 32\]"):
            torch.ops.xbar.hwa_export_float(data, names, swapped)
        with self.assertRaisesRegex(RuntimeError, "fc3.weight"):
            torch.ops.xbar.hwa_export_float(data, names[:3] + ["fc3.weight"], values)
        with self.assertRaisesRegex(RuntimeError, "fc2.bias"):  # one parameter left without a value
            torch.ops.xbar.hwa_export_float(data, names[:3], values[:3])

    def test_bad_use_raises(self):
        with self.assertRaisesRegex(ValueError, "clip"):
            xbar.hwa.HWA(Net(), PCM, clip="hard")
        with self.assertRaisesRegex(ValueError, "chip_every"):
            xbar.hwa.HWA(Net(), PCM, chip_every=0)
        with self.assertRaisesRegex(ValueError, "adc.bitz"):
            xbar.hwa.HWA(Net(), "[adc]\nbitz = 3\n")
        with self.assertRaisesRegex(ValueError, "no analog"):
            xbar.hwa.HWA(Net(), "[policy]\nmode = \"digital\"\n")
        hw = xbar.hwa.HWA(Net(), PCM)
        with self.assertRaisesRegex(RuntimeError, "init_ranges"):
            hw(self.x, step=0)


if __name__ == "__main__":
    unittest.main()
