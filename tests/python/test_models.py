"""End-to-end: models built in PyTorch, scripted AND traced, converted by `xbar convert`, run again
in Python after torch.ops.load_library.

Run with Debian's Python (the `python3` on PATH has no torch):
    XBAR_BIN=build/xbar XBAR_TORCH_LIB=build/libxbar_torch.so /usr/bin/python3 -m unittest -v tests/python/test_models.py

Tolerances (stated per check):
  * ideal policy: max |converted - original| / max |original| <= 1e-5 (the engine computes in
    float32 with every stage exact; measured ~1e-7 .. 1e-6);
  * default policy (PCM, 8-bit DAC/ADC/weights): Frobenius relative error in [1e-3, 1.0]: the
    noise is there, and the output is still correlated with the float model;
  * gradients (float64 model, ideal policy): straight-through backward of the float product, so
    the gradients equal the original model's within float32 forward error: 1e-4 relative.
"""
import math
import os
import re
import subprocess
import tempfile
import unittest

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("XBAR_SOURCE", os.path.normpath(os.path.join(HERE, "..", "..")))
XBAR_BIN = os.environ.get("XBAR_BIN", os.path.join(SOURCE, "build", "xbar"))
XBAR_TORCH_LIB = os.environ.get("XBAR_TORCH_LIB", os.path.join(SOURCE, "build", "libxbar_torch.so"))
IDEAL = os.path.join(SOURCE, "data", "policies", "ideal.toml")
DEFAULT_FILE = os.path.join(SOURCE, "data", "policies", "default.toml")
# These checks read without a calibration pass: the default chip with its conservative ADC range
# (adc.range = worst_case, no calibration needed); tests/python/test_calibration.py covers the
# calibrated default.
DEFAULT = None

IDEAL_TOL = 1e-5

torch.ops.load_library(XBAR_TORCH_LIB)


# --- models --------------------------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, (3, 2), stride=2, dilation=(1, 2))
        self.fc1 = nn.Linear(8 * 5 * 5, 10)

    def forward(self, x):
        h = torch.relu(self.conv1(x))
        h = torch.relu(self.conv2(h))
        return self.fc1(torch.flatten(h, 1))


class HeadProjections(nn.Module):
    """The q, k, v and output projections of multi-head attention and the split into heads."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.dk = d // heads
        self.scale = 1.0 / math.sqrt(self.dk)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)

    def split(self, t, B: int, T: int):
        return t.view(B, T, self.heads, self.dk).transpose(1, 2)


class Attention(HeadProjections):
    """Multi-head self-attention with explicit products: scores = q @ k^T, softmax, p @ v."""

    def forward(self, x):
        B, T, D = x.shape
        q = self.split(self.q(x), B, T)
        k = self.split(self.k(x), B, T)
        v = self.split(self.v(x), B, T)
        s = q @ k.transpose(-2, -1) * self.scale
        p = torch.softmax(s, dim=-1)
        c = (p @ v).transpose(1, 2).reshape(B, T, D)
        return self.o(c)


class TransformerBlock(nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(torch.relu(self.fc1(self.ln2(x))))


class CausalDecoder(HeadProjections):
    """One causal attention layer + MLP + lm_head; `decode` runs one token with a KV cache."""

    def __init__(self, d=32, heads=4, vocab=24):
        super().__init__(d, heads)
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)
        self.lm_head = nn.Linear(d, vocab)

    def tail(self, x, c):
        h = x + self.o(c)
        h = h + self.fc2(torch.relu(self.fc1(h)))
        return self.lm_head(h)

    def forward(self, x):
        B, T, D = x.shape
        q = self.split(self.q(x), B, T)
        k = self.split(self.k(x), B, T)
        v = self.split(self.v(x), B, T)
        s = q @ k.transpose(-2, -1) * self.scale
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), 1)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        c = (p @ v).transpose(1, 2).reshape(B, T, D)
        return self.tail(x, c)

    def step(self, x_t, k_cache, v_cache):
        B, T, D = x_t.shape  # T == 1
        q = self.split(self.q(x_t), B, T)
        k = torch.cat([k_cache, self.split(self.k(x_t), B, T)], 2)
        v = torch.cat([v_cache, self.split(self.v(x_t), B, T)], 2)
        s = q @ k.transpose(-2, -1) * self.scale
        p = torch.softmax(s, dim=-1)
        c = (p @ v).transpose(1, 2).reshape(B, T, D)
        return self.tail(x_t, c), k, v

    def decode(self, x_t, k_cache, v_cache):
        return self.step(x_t, k_cache, v_cache)


class ScriptedDecoder(CausalDecoder):
    """The same decoder for torch.jit.script, which compiles only exported extra methods. (Tracing
    needs the plain class: trace_module fails with "method already defined" on an exported one.)"""

    @torch.jit.export
    def decode(self, x_t, k_cache, v_cache):
        return self.step(x_t, k_cache, v_cache)


class Grouped(nn.Module):
    """A grouped conv and a product with a parameter (both convert), and a product with the
    parameter on the left (stays float)."""

    def __init__(self):
        super().__init__()
        self.gconv = nn.Conv2d(4, 4, 3, padding=1, groups=2)
        self.proj = nn.Parameter(torch.randn(6, 5))
        self.left = nn.Parameter(torch.randn(5, 5))
        self.fc1 = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc1(torch.matmul(self.left, torch.matmul(self.gconv(x), self.proj)))


SCRIPTABLE = {CausalDecoder: ScriptedDecoder}


def decoder_inputs(dtype=torch.float32):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 5, 32, generator=g, dtype=dtype)
    xt = torch.randn(2, 1, 32, generator=g, dtype=dtype)
    kc = torch.randn(2, 4, 3, 8, generator=g, dtype=dtype)
    vc = torch.randn(2, 4, 3, 8, generator=g, dtype=dtype)
    return x, (xt, kc, vc)


def model_cases():
    """(name, constructor, example input): every model is scripted and traced."""
    g = torch.Generator().manual_seed(3)
    return [
        ("mlp", MLP, torch.randn(8, 20, generator=g)),
        ("cnn", CNN, torch.randn(3, 1, 12, 12, generator=g)),
        ("block", TransformerBlock, torch.randn(2, 6, 32, generator=g)),
        ("decoder", CausalDecoder, decoder_inputs()[0]),
    ]


def rel_max(y, ref):
    return ((y.double() - ref.double()).abs().max() / ref.double().abs().max()).item()


def rel_fro(y, ref):
    return ((y.double() - ref.double()).norm() / ref.double().norm()).item()


def first(out):
    return out[0] if isinstance(out, tuple) else out


# --- harness -------------------------------------------------------------------------------------
class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="xbar_models_")
        cls.dir = cls.tmp.name
        for p in (XBAR_BIN, XBAR_TORCH_LIB, IDEAL, DEFAULT_FILE):
            if not os.path.exists(p):
                raise unittest.SkipTest(p + " not found (set XBAR_BIN / XBAR_TORCH_LIB)")
        global DEFAULT
        DEFAULT = os.path.join(cls.dir, "default_worst_case.toml")
        with open(DEFAULT_FILE) as f, open(DEFAULT, "w") as o:
            o.write(f.read() + '\n[[override]]\nmatch = "*"\n[override.adc]\nrange = "worst_case"\n')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def script_or_trace(self, make, x, how):
        torch.manual_seed(11)
        if how == "script":
            return torch.jit.script(SCRIPTABLE.get(make, make)().eval())
        model = make().eval()
        if isinstance(model, CausalDecoder):
            # check_trace=False: torch 1.13's trace checker re-traces every method into one module
            # and fails with "method ... already defined" when more than one method is traced.
            return torch.jit.trace_module(model, {"forward": (x,), "decode": decoder_inputs(x.dtype)[1]},
                                          check_trace=False)
        return torch.jit.trace(model, x)

    def save(self, module, stem):
        path = os.path.join(self.dir, stem + ".pt")
        torch.jit.save(module, path)
        return path

    def convert(self, path, policy, stem):
        out = os.path.join(self.dir, stem + ".pt")
        r = subprocess.run([XBAR_BIN, "convert", path, "--policy", policy, "-o", out],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "xbar convert failed:\n" + r.stdout + r.stderr)
        return torch.jit.load(out), r.stdout

    def report_lines(self, report, method):
        return [l for l in report.splitlines() if re.search(r"\s%s\s" % method, l)]


class TestConvertedModels(ModelTest):
    def test_ideal_equals_float_and_noisy_is_correlated(self):
        """ideal: <= 1e-5 relative (max norm); default: Frobenius relative error in [1e-3, 1]."""
        for name, make, x in model_cases():
            for how in ("script", "trace"):
                with self.subTest(model=name, how=how):
                    m = self.script_or_trace(make, x, how)
                    with torch.no_grad():
                        ref = m(x)
                    path = self.save(m, f"{name}_{how}")
                    ideal, rep = self.convert(path, IDEAL, f"{name}_{how}_ideal")
                    self.assertIn(" analog, ", rep)
                    self.assertNotRegex(rep, r"\n0 analog, ")
                    with torch.no_grad():
                        y = ideal(x)
                    self.assertEqual(y.shape, ref.shape)
                    self.assertLess(rel_max(y, ref), IDEAL_TOL, rep)
                    noisy, _ = self.convert(path, DEFAULT, f"{name}_{how}_default")
                    with torch.no_grad():
                        e = rel_fro(noisy(x), ref)
                    self.assertGreater(e, 1e-3)
                    self.assertLess(e, 1.0)

    def test_report_names_layers_and_op_classes(self):
        m = self.script_or_trace(TransformerBlock, torch.randn(2, 6, 32), "script")
        _, rep = self.convert(self.save(m, "block_report"), IDEAL, "block_report_ideal")
        for name, op in [("attn.q", "linear"), ("attn.o", "linear"), ("fc1", "linear"), ("fc2", "linear"),
                         ("attn.scores", "attn_qk"), ("attn.context", "attn_av")]:
            self.assertRegex(rep, r"analog\s+forward\s+aten::\w+\s+%s\s+\[%s\]" % (re.escape(name), op), rep)
        self.assertIn("8 analog, 0 digital-emulated, 0 left in float", rep)
        m = self.script_or_trace(CausalDecoder, decoder_inputs()[0], "script")
        _, rep = self.convert(self.save(m, "dec_report"), IDEAL, "dec_report_ideal")
        self.assertRegex(rep, r"analog\s+forward\s+aten::linear\s+lm_head\s+\[lm_head\]", rep)

    def test_counters_report_conversions(self):
        """After one forward on the default policy (8-bit ADC) every linear layer has converted."""
        for how in ("script", "trace"):
            with self.subTest(how=how):
                x = torch.randn(8, 20)
                m = self.script_or_trace(MLP, x, how)
                conv, _ = self.convert(self.save(m, f"mlp_cnt_{how}"), DEFAULT, f"mlp_cnt_{how}_default")
                c0 = conv._xbar_fc1.counters()
                self.assertEqual(c0["reads"], 0)
                with torch.no_grad():
                    conv(x)
                c = conv._xbar_fc1.counters()
                self.assertEqual(c["reads"], 1)
                # 8 inputs x 64 outputs, one tile, one input slice: one conversion per output.
                self.assertEqual(c["conversions"], 8 * 64)
                self.assertEqual(c["tiles"], 1)
                self.assertEqual(conv._xbar_fc1.name(), "fc1")
                self.assertEqual(conv._xbar_fc1.op_class(), "linear")
                self.assertRegex(conv._xbar_fc1.config(), r"model = ['\"]pcm['\"]")

    def test_layer_cost_prices_the_counters(self):
        """Layer.cost(file, n): ADC and shift-add energies equal the counted column outputs times the
        file's per-event figures (1e-12 relative), divided by n; the DAC energy the pulses'."""
        x = torch.randn(8, 20)
        m = self.script_or_trace(MLP, x, "script")
        conv, _ = self.convert(self.save(m, "mlp_cost"), DEFAULT, "mlp_cost_default")
        with torch.no_grad():
            conv(x)
        layer = conv._xbar_fc1
        c = layer.counters()
        hw = os.path.join(SOURCE, "data", "hardware", "default.toml")
        cost = layer.cost(hw, 8.0)
        e_adc, e_sa, e_dac = 1.67, 0.021, 0.39  # data/hardware/default.toml, 8-bit ADC = its ref bits
        self.assertGreater(c["column_outputs"], 0)
        self.assertAlmostEqual(cost["energy_adc_pJ"] / (c["column_outputs"] * e_adc / 8), 1.0, places=12)
        self.assertAlmostEqual(cost["energy_shift_add_pJ"] / (c["column_outputs"] * e_sa / 8), 1.0, places=12)
        self.assertAlmostEqual(cost["energy_dac_pJ"] / (c["input_pulses"] * e_dac / 8), 1.0, places=12)
        self.assertEqual(cost["ops"], 2 * 8 * 20 * 64 / 8)
        self.assertGreater(cost["energy_array_pJ"], 0)

    def test_save_load_in_python_continues_identically(self):
        """A converted (noisy) model saved after one read reads identically to the original next."""
        for name, make, x in model_cases():
            with self.subTest(model=name):
                m = self.script_or_trace(make, x, "script")
                conv, _ = self.convert(self.save(m, f"{name}_sl"), DEFAULT, f"{name}_sl_default")
                with torch.no_grad():
                    y1 = conv(x)
                    path = self.save(conv, f"{name}_sl_saved")
                    y2 = conv(x)
                    y2_loaded = torch.jit.load(path)(x)
                self.assertFalse(torch.equal(y1, y2), "read noise should be fresh on every read")
                self.assertTrue(torch.equal(y2, y2_loaded),
                                f"max diff {(y2 - y2_loaded).abs().max().item()}")

    def test_gradients_flow_in_float64(self):
        """Float64 models, ideal policy: finite, non-zero parameter gradients equal to the original
        model's within 1e-4 relative (straight-through: the backward is the float product's; the
        forward differs from float64 only by float32 rounding)."""
        for name, make, x in model_cases():
            for how in ("script", "trace"):
                with self.subTest(model=name, how=how):
                    x64 = x.double()
                    torch.manual_seed(11)
                    model = (SCRIPTABLE.get(make, make) if how == "script" else make)().double()
                    if how == "script":
                        m = torch.jit.script(model)
                    elif isinstance(model, CausalDecoder):
                        m = torch.jit.trace_module(model, {"forward": (x64,), "decode": decoder_inputs(torch.float64)[1]},
                                                   check_trace=False)
                    else:
                        m = torch.jit.trace(model, x64)
                    conv, _ = self.convert(self.save(m, f"{name}_g_{how}"), IDEAL, f"{name}_g_{how}_ideal")
                    r = torch.randn(m(x64).shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
                    (m(x64) * r).sum().backward()
                    y = conv(x64)
                    self.assertEqual(y.dtype, torch.float64)
                    (y * r).sum().backward()
                    ref = dict(m.named_parameters())
                    # Scale: the largest gradient of the model. Some gradients are zero in exact
                    # arithmetic (the key bias: softmax is invariant to a per-query constant) and
                    # only rounding noise in both models, so a per-tensor relative bound is wrong.
                    scale = max(p.grad.abs().max().item() for p in ref.values())
                    n = 0
                    for pname, p in conv.named_parameters():
                        g, gr = p.grad, ref[pname].grad
                        self.assertIsNotNone(g, pname)
                        self.assertTrue(torch.isfinite(g).all(), pname)
                        if p.dim() >= 2:
                            self.assertGreater(g.abs().max().item(), 0, pname)
                        self.assertLess((g - gr).abs().max().item(), 1e-4 * scale, pname)
                        n += 1
                    self.assertGreater(n, 0)

    def test_unconvertible_nodes_reported_as_float(self):
        for how in ("script", "trace"):
            with self.subTest(how=how):
                x = torch.randn(2, 4, 5, 6)
                m = self.script_or_trace(Grouped, x, how)
                with torch.no_grad():
                    ref = m(x)
                conv, rep = self.convert(self.save(m, f"grouped_{how}"), IDEAL, f"grouped_{how}_ideal")
                self.assertRegex(rep, r"(?m)^analog\s.*gconv\s+\[conv\]", rep)
                self.assertRegex(rep, r"(?m)^analog\s.*aten::matmul\s+proj\s+\[linear\]", rep)
                self.assertRegex(rep, r"(?m)^float\s.*aten::matmul.*module attribute on the left", rep)
                self.assertIn("3 analog, 0 digital-emulated, 1 left in float", rep)
                with torch.no_grad():
                    self.assertLess(rel_max(conv(x), ref), IDEAL_TOL)


class TestDecodePhase(ModelTest):
    def test_decode_method_is_converted_and_named_decode(self):
        """Every method converts; the decode method's ops are in phase 'decode' (an override for the
        decode phase switches them to digital float, leaving forward analog)."""
        x, dec_in = decoder_inputs()
        policy = os.path.join(self.dir, "decode_digital.toml")
        with open(IDEAL) as f, open(policy, "w") as g:
            g.write(f.read() + '\n[[override]]\nphase = "decode"\nmode = "digital"\n')
        for how in ("script", "trace"):
            with self.subTest(how=how):
                m = self.script_or_trace(CausalDecoder, x, how)
                with torch.no_grad():
                    ref_f = m(x)
                    ref_d = m.decode(*dec_in)
                path = self.save(m, f"dec_{how}")
                conv, rep = self.convert(path, IDEAL, f"dec_{how}_ideal")
                dec_lines = self.report_lines(rep, "decode")
                self.assertTrue(any("[attn_qk]" in l for l in dec_lines), rep)
                self.assertTrue(any("[attn_av]" in l for l in dec_lines), rep)
                self.assertTrue(any("[lm_head]" in l for l in dec_lines), rep)
                self.assertTrue(all(l.startswith("analog") for l in dec_lines), rep)
                with torch.no_grad():
                    self.assertLess(rel_max(conv(x), ref_f), IDEAL_TOL)
                    out = conv.decode(*dec_in)
                for o, r in zip(out, ref_d):
                    self.assertLess(rel_max(o, r), IDEAL_TOL)
                conv, rep = self.convert(path, policy, f"dec_{how}_digital")
                dec_lines = self.report_lines(rep, "decode")
                fwd_lines = self.report_lines(rep, "forward")
                self.assertTrue(dec_lines and all(l.startswith("digital") for l in dec_lines), rep)
                self.assertTrue(fwd_lines and all(l.startswith("analog") for l in fwd_lines), rep)
                with torch.no_grad():
                    self.assertLess(rel_max(conv.decode(*dec_in)[0], ref_d[0]), IDEAL_TOL)

    def test_decode_names_match_forward(self):
        """The same layers and attention products carry the same names in forward and decode (so a
        policy glob written for one matches the other)."""
        x, _ = decoder_inputs()
        for how in ("script", "trace"):
            with self.subTest(how=how):
                m = self.script_or_trace(CausalDecoder, x, how)
                _, rep = self.convert(self.save(m, f"dec_names_{how}"), IDEAL, f"dec_names_{how}_ideal")
                names = lambda method: sorted(l.split()[3] for l in self.report_lines(rep, method))
                self.assertEqual(names("decode"), names("forward"), rep)
                self.assertIn("scores", names("decode"), rep)

    def test_kv_cache_decode_matches_prefill(self):
        """Independent check of the decoder itself and of the converted analog decode: token-by-token
        decoding with the cache reproduces the causal forward (ideal policy, 1e-5)."""
        x, _ = decoder_inputs()
        m = self.script_or_trace(CausalDecoder, x, "script")
        conv, _ = self.convert(self.save(m, "dec_kv"), IDEAL, "dec_kv_ideal")
        with torch.no_grad():
            ref = m(x)
            for model in (m, conv):
                kc = torch.zeros(2, 4, 0, 8)
                vc = torch.zeros(2, 4, 0, 8)
                steps = []
                for t in range(x.shape[1]):
                    y, kc, vc = model.decode(x[:, t:t + 1], kc, vc)
                    steps.append(y)
                self.assertLess(rel_max(torch.cat(steps, 1), ref), IDEAL_TOL)


class TestOddConvolutions(ModelTest):
    def test_conv_padding_same_string(self):
        """nn.Conv2d(padding='same') scripts to aten::conv2d.padding (padding is a string): the
        conversion must either map it correctly or leave it float, never produce a broken graph."""
        torch.manual_seed(2)
        model = nn.Sequential(nn.Conv2d(2, 3, 3, padding="same")).eval()
        x = torch.randn(1, 2, 6, 6)
        m = torch.jit.script(model)
        with torch.no_grad():
            ref = m(x)
        conv, rep = self.convert(self.save(m, "same"), IDEAL, "same_ideal")
        with torch.no_grad():
            self.assertLess(rel_max(conv(x), ref), IDEAL_TOL, rep)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x, y):
        return self.fc(torch.flatten(x, 1) + torch.flatten(y, 1))


class TestEdgeInputs(ModelTest):
    """Empty batches with calibrated ADC ranges, chip numbers out of range, two-input models."""

    def calibrated_policy(self):
        p = os.path.join(self.dir, "calibrated.toml")
        with open(p, "w") as f:
            f.write('[device]\nmodel = "pcm"\n[adc]\nbits = 6\nrange = "calibrated"\n')
        return p

    def xbar_model(self):
        import importlib.util
        spec = importlib.util.spec_from_file_location("xbar_lifecycle", os.path.join(SOURCE, "python", "xbar", "lifecycle.py"))
        xm = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(xm)
        return xm

    def test_empty_batch_with_calibrated_adc(self):
        """A batch of 0 returns an empty output, before and after the calibration pass, and leaves
        the chip as a model that never saw it: the next batch reads bit for bit what a fresh load,
        calibrated on the same data, reads."""
        xm = self.xbar_model()
        g = torch.Generator().manual_seed(3)
        for name, make, x in (("mlp", MLP, torch.randn(8, 20)), ("cnn", CNN, torch.randn(3, 1, 12, 12))):
            with self.subTest(model=name):
                cal = torch.randn(x.shape, generator=g)
                m = self.script_or_trace(make, x, "script")
                conv, _ = self.convert(self.save(m, f"{name}_empty"), self.calibrated_policy(), f"{name}_empty_cal")
                path = os.path.join(self.dir, f"{name}_empty_cal.pt")
                fresh = torch.jit.load(path)
                xm.calibrate(fresh, cal)
                with torch.no_grad():
                    out_shape = (0,) + tuple(fresh(x).shape[1:])
                    self.assertEqual(tuple(conv(x[:0]).shape), out_shape)  # needs no ranges: reads nothing
                    xm.calibrate(conv, cal)
                    self.assertEqual(tuple(conv(x[:0]).shape), out_shape)
                    fresh = torch.jit.load(path)
                    xm.calibrate(fresh, cal)
                    self.assertTrue(torch.equal(conv(x), fresh(x)))

    def test_chip_out_of_range(self):
        xm = self.xbar_model()
        m = self.script_or_trace(MLP, torch.randn(2, 20), "script")
        conv, _ = self.convert(self.save(m, "mlp_chip"), IDEAL, "mlp_chip_ideal")
        for chip in (-1, 2**63):
            with self.assertRaisesRegex(ValueError, r"chip = %d: must be in 0 \.\. 9223372036854775807" % chip):
                xm.program(conv, chip)
        with self.assertRaisesRegex(RuntimeError, r"xbar layer fc1: chip -1 is out of range 0 \.\. 9223372036854775807"):
            conv._xbar_fc1.set_chip(-1)
        xm.program(conv, 2**63 - 1)
        with torch.no_grad():
            self.assertTrue(torch.isfinite(conv(torch.randn(2, 20))).all())

    def test_two_input_model_refused_in_one_line(self):
        m = torch.jit.script(TwoInputs().eval())
        path = self.save(m, "two_inputs")
        r = subprocess.run([XBAR_BIN, "eval", "--model", path, "--samples", "10", "--repeats", "1"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("forward takes 2 inputs (x, y)", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_torchscript_errors_are_one_line_unless_debugging(self):
        """A model that fails inside TorchScript (20 inputs fed 784 pixels): the error line only;
        XBAR_DEBUG=1 adds the TorchScript traceback and the C++ stack."""
        path = self.save(torch.jit.script(MLP().eval()), "mlp_wrong_task")
        args = [XBAR_BIN, "eval", "--model", path, "--samples", "10", "--repeats", "1"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("shapes cannot be multiplied", r.stderr)
        env = dict(os.environ, XBAR_DEBUG="1")
        d = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(d.returncode, 2, d.stderr)
        self.assertGreater(len(d.stderr.strip().splitlines()), 3, d.stderr)


if __name__ == "__main__":
    unittest.main()
