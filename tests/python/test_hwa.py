"""xbar.hwa (python/xbar/hwa.py) on the character GPT: a short noise-aware retraining in a plain
Python loop on the default PCM chip lowers the on-chip bits per character below the float-trained
model's on the same held-out chips, and `xbar train --hwa` with the same options trains the same
weights and learned ranges bit for bit (one implementation, torch/hwa_step.h, two front ends).

The Python loop draws its batches from the fortunes corpus read here independently of the C++
loader (the split rule of ml/text_corpus.h, the 10% held-out tail of ml/calibration.h, the window
order of apps/hwa_data.cpp); Adam without foreach is LibTorch's C++ Adam update, so any difference
in data, chips, learning rates or the per-step functions shows as unequal weights. Both run on one
thread: LibTorch's reductions (e.g. weight gradients) depend on the thread count. With equal
weights and policy, every evaluation of the two exports is the same, so the on-chip numbers are
measured once, by `xbar eval`, for the float-trained model and the Python export."""
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("XBAR_SOURCE", os.path.normpath(os.path.join(HERE, "..", "..")))
XBAR_BIN = os.environ.get("XBAR_BIN", os.path.join(SOURCE, "build", "xbar"))
XBAR_TORCH_LIB = os.path.abspath(os.environ.get("XBAR_TORCH_LIB", os.path.join(SOURCE, "build", "libxbar_torch.so")))
sys.path.insert(0, os.path.join(SOURCE, "python"))
import xbar  # noqa: E402
import xbar.hwa  # noqa: E402

xbar.load(XBAR_TORCH_LIB)
GPT = os.path.join(SOURCE, "data", "models", "gpt.pt")
PCM = os.path.join(SOURCE, "data", "policies", "pcm_adc6.toml")
FORTUNE_FILES = [
    "art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education",
    "ethnic", "food", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie", "love", "magic",
    "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people", "perl", "pets", "platitudes",
    "politics", "pratchett", "science", "songs-poems", "sports", "startrek", "tao", "translate-me", "wisdom",
    "work", "zippy"]
SEED, BATCH, STEPS, LR, RANGE_LR = 1, 8, 32, 2.5e-4, 1e-2
CHIPS, SAMPLES, CALIBRATION = 3, 4000, 64  # chips 0-2, the first 4000 validation characters, 64 windows
# of training text calibrate the ADC ranges of each chip


def train_tokens() -> torch.Tensor:
    """Training tokens of the fortunes corpus without the held-out last 10%."""
    d = os.environ.get("XBAR_FORTUNES") or "/usr/share/games/fortunes"
    text, k = bytearray(), 0
    for name in FORTUNE_FILES:
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        cur, fortunes = bytearray(), []
        for line in lines + [b"%"]:
            if line == b"%":
                if cur.strip(b" \t\n"):
                    fortunes.append(bytes(cur))
                cur = bytearray()
            else:
                cur += line + b"\n"
        for f in fortunes:
            if k % 10 != 9:
                text += f + b"%\n"
            k += 1
    chars = sorted({c for c in text if c in (9, 10) or 32 <= c <= 126})
    table = torch.zeros(256, dtype=torch.long)
    for i, c in enumerate(chars):
        table[c] = i + 1
    tokens = table[torch.frombuffer(text, dtype=torch.uint8).long()]
    return tokens[: tokens.numel() - int(tokens.numel() * 0.1)]


def xbar_eval(model: str, policy: str) -> list:
    """bits/char of each of the chips 0 .. CHIPS-1, as `xbar eval` prints them."""
    out = subprocess.run([XBAR_BIN, "eval", "--task", "text", "--model", model, "--policy", policy, "--repeats",
                          str(CHIPS), "--samples", str(SAMPLES), "--decode-windows", "0",
                          "--calibration-samples", str(CALIBRATION)],
                         check=True, capture_output=True, text=True).stdout
    chips = [float(v) for v in re.findall(r"^chip \d+ bits_per_char ([0-9.]+)$", out, re.M)]
    if len(chips) != CHIPS:
        raise AssertionError("expected %d 'chip k bits_per_char' lines in xbar eval's output:\n%s" % (CHIPS, out))
    return chips


class HwaGptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="xbar_hwa_py_")
        cls.py_dir = os.path.join(cls.tmp.name, "python")
        cls.cli_dir = os.path.join(cls.tmp.name, "cli")
        # Python front end: the user's loop.
        torch.set_num_threads(1)
        float_model = torch.jit.load(GPT)
        context = float_model.context_len
        tokens = train_tokens()
        examples = BATCH * STEPS  # --max-examples
        g = torch.Generator().manual_seed(SEED * 1000003 + 0)  # epoch 0
        order = torch.randint(tokens.numel() - context - 1, (examples,), generator=g)
        windows = [tokens[order[b * BATCH:(b + 1) * BATCH].unsqueeze(1) + torch.arange(context + 1)]
                   for b in range(STEPS)]
        hw = xbar.hwa.HWA(float_model, PCM, seed=SEED)
        hw.init_ranges(windows[0][:, :context])
        opt = torch.optim.Adam(hw.param_groups(lr=LR, range_lr=RANGE_LR), foreach=False)
        hw.module.train()
        for step, win in enumerate(windows):
            logits = hw(win[:, :context], step=step)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), win[:, 1:].reshape(-1))
            for group, peak in zip(opt.param_groups, (LR, RANGE_LR)):
                group["lr"] = peak * xbar.hwa.cosine_lr(step, STEPS, 1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            hw.constrain()
        hw.save(cls.py_dir)
        cls.ranges = [r.item() for r in hw.ranges()]
        # CLI front end, the same run.
        subprocess.run([XBAR_BIN, "train", "--hwa", "--model", GPT, "--policy", PCM, "--out", cls.cli_dir,
                        "--epochs", "1", "--batch", str(BATCH), "--max-examples", str(examples), "--seed",
                        str(SEED), "--lr", str(LR), "--range-lr", str(RANGE_LR), "--threads", "1", "--eval-chips", "1",
                        "--eval-samples", "129", "--test-samples", "129", "--no-progress"],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_python_and_cli_train_the_same_weights_bit_for_bit(self):
        py = dict(torch.jit.load(os.path.join(self.py_dir, "model.pt")).named_parameters())
        cli = dict(torch.jit.load(os.path.join(self.cli_dir, "model.pt")).named_parameters())
        self.assertEqual(sorted(py), sorted(cli))
        changed = 0
        float_params = dict(torch.jit.load(GPT).named_parameters())
        for name in py:
            self.assertTrue(torch.equal(py[name], cli[name]), name)
            changed += int(not torch.equal(py[name], float_params[name]))
        self.assertGreater(changed, 0)  # training moved the weights
        body = lambda path: Path(path).read_text().split("\n", 1)[1]  # without the comment line
        self.assertEqual(body(os.path.join(self.py_dir, "policy.toml")), body(os.path.join(self.cli_dir, "policy.toml")))
        self.assertEqual(body(os.path.join(self.py_dir, "policy.toml")).count("[override.dac]"), len(self.ranges))

    def test_python_schedule_is_the_cli_schedule(self):
        with open(os.path.join(self.cli_dir, "train_log.csv")) as f:
            lrs = [float(r["lr"]) for r in csv.DictReader(f)]
        self.assertEqual(lrs, [LR * xbar.hwa.cosine_lr(s, STEPS, 1.0) for s in range(STEPS)])

    def test_python_hwa_beats_the_float_model_on_the_same_chips(self):
        before = xbar_eval(GPT, PCM)
        after = xbar_eval(os.path.join(self.py_dir, "model.pt"), os.path.join(self.py_dir, "policy.toml"))
        gain = [b - a for b, a in zip(before, after)]
        print("\nbits/char on chips 0-%d, %d validation characters: float-trained %.4f +- %.4f %s, xbar.hwa "
              "(%d steps of %d windows) %.4f +- %.4f %s; gain per chip %s" % (
                  CHIPS - 1, SAMPLES, statistics.mean(before), statistics.stdev(before), before, STEPS, BATCH,
                  statistics.mean(after), statistics.stdev(after), after, ["%.3f" % g for g in gain]))
        # Each chip reads the retrained model better than the float-trained one (paired: the same
        # chip's noise for both), and the mean gain exceeds eval's rounding (3 decimals) tenfold.
        for g in gain:
            self.assertGreater(g, 0.0)
        self.assertGreater(statistics.mean(gain), 0.005)


if __name__ == "__main__":
    unittest.main()
