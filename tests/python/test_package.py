"""The xbar Python package (python/xbar): in-process conversion equals `xbar convert` bit for bit;
traced models convert through example_inputs; policies as path, TOML text or dict; bad inputs raise
clear Python exceptions; the package installs with pip from the checkout without network."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("XBAR_SOURCE", os.path.normpath(os.path.join(HERE, "..", "..")))
XBAR_BIN = os.environ.get("XBAR_BIN", os.path.join(SOURCE, "build", "xbar"))
XBAR_TORCH_LIB = os.path.abspath(os.environ.get("XBAR_TORCH_LIB", os.path.join(SOURCE, "build", "libxbar_torch.so")))
sys.path.insert(0, os.path.join(SOURCE, "python"))
import xbar  # noqa: E402

xbar.load(XBAR_TORCH_LIB)
PCM = os.path.join(SOURCE, "data", "policies", "pcm_adc6.toml")
IDEAL = os.path.join(SOURCE, "data", "policies", "ideal.toml")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4 * 13 * 13, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


class TraceOnly(Net):
    def forward(self, x, *unused):  # variadic arguments: torch.jit.script refuses, tracing works
        return super().forward(x)


def run_on_chip(m, x, calib, chip=3):
    xbar.program(m, chip)
    xbar.calibrate(m, calib)
    with torch.no_grad():
        return m(x)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="xbar_package_")
        torch.manual_seed(1)
        cls.x = torch.randn(16, 1, 28, 28)
        cls.calib = torch.randn(32, 1, 28, 28)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_convert_equals_cli_bit_for_bit(self):
        net = Net().eval()
        path = os.path.join(self.tmp.name, "net.pt")
        torch.jit.save(torch.jit.script(net), path)
        out = os.path.join(self.tmp.name, "net_cli.pt")
        subprocess.run([XBAR_BIN, "convert", path, "--policy", PCM, "-o", out], check=True, capture_output=True)
        cli = torch.jit.load(out)
        py, report = xbar.convert(net, PCM)
        self.assertEqual([o.name for o in report.converted], ["conv", "fc"])
        self.assertIn("2 analog", report.table)
        a, b = run_on_chip(cli, self.x, self.calib), run_on_chip(py, self.x, self.calib)
        self.assertTrue(torch.equal(a, b))
        # The policy as TOML text and as a dict gives the same chip.
        import tomllib
        with open(PCM, "rb") as f:
            as_dict = tomllib.load(f)
        with open(PCM) as f:
            as_text = f.read()
        for p in (as_text, as_dict):
            m, _ = xbar.convert(net, p)
            self.assertTrue(torch.equal(run_on_chip(m, self.x, self.calib), a))
        # A different chip differs (the comparison above can fail).
        self.assertFalse(torch.equal(run_on_chip(py, self.x, self.calib, chip=4), a))

    def test_traced_model_through_example_inputs(self):
        net = TraceOnly().eval()
        with self.assertRaisesRegex(TypeError, "example_inputs"):
            xbar.convert(net, IDEAL)
        m, report = xbar.convert(net, IDEAL, example_inputs=self.x[:2])
        self.assertEqual(len(report.converted), 2)
        xbar.program(m, 0)
        with torch.no_grad():
            y, ref = m(self.x), net(self.x)
        # The ideal policy reproduces float to float32 rounding (relative 1e-5 of the output scale).
        self.assertLess((y - ref).abs().max().item(), 1e-5 * ref.abs().max().item())
        self.assertEqual(set(xbar.counters(m)), {"conv", "fc"})

    def test_bad_inputs(self):
        with self.assertRaisesRegex(TypeError, "torch.nn.Module"):
            xbar.convert(42, IDEAL)
        with self.assertRaisesRegex(ValueError, "adc.bitz"):
            xbar.convert(Net(), {"adc": {"bitz": 4}})
        with self.assertRaisesRegex(FileNotFoundError, "no_such_policy.toml"):
            xbar.convert(Net(), "no_such_policy.toml")
        converted, _ = xbar.convert(Net(), IDEAL)
        with self.assertRaisesRegex(ValueError, "already"):
            xbar.convert(converted, IDEAL)

    def test_missing_library_names_the_path(self):
        env = dict(os.environ, XBAR_TORCH_LIB="/nonexistent/libxbar_torch.so",
                   PYTHONPATH=os.path.join(SOURCE, "python"))
        r = subprocess.run([sys.executable, "-c", "import xbar; xbar.load()"], env=env, capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("FileNotFoundError", r.stderr)
        self.assertIn("/nonexistent/libxbar_torch.so", r.stderr)

    def test_pip_install_without_network(self):
        src = os.path.join(self.tmp.name, "src")
        shutil.copytree(os.path.join(SOURCE, "python"), src, ignore=shutil.ignore_patterns("__pycache__"))
        target = os.path.join(self.tmp.name, "site")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                        "--no-build-isolation", "--target", target, src], check=True, capture_output=True)
        env = dict(os.environ, XBAR_TORCH_LIB=XBAR_TORCH_LIB, PYTHONPATH=target)
        code = ("import torch, xbar; m, r = xbar.convert(torch.nn.Linear(4, 2), {'device': {'model': 'ideal'}});"
                "print(xbar.__file__); print(len(r.converted))")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=self.tmp.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(target), r.stdout)
        self.assertEqual(r.stdout.split()[-1], "1")


if __name__ == "__main__":
    unittest.main()
