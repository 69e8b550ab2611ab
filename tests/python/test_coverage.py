"""Conversion coverage on models we did not write: torchvision 0.14 (ResNet-18, MobileNetV3-small,
a small VisionTransformer) and torch.nn's MultiheadAttention, TransformerEncoder and Transformer,
scripted and traced, in eval mode under no_grad (PyTorch's fused attention / encoder-layer
kernels) and in training mode (the unfused graph).

Checks, with their tolerances:
  * ideal policy: max |converted - float| / max |float| <= 1e-5 (float32 products; measured
    ~1e-7 .. 1e-6);
  * coverage >= 99%: the matrix-product FLOPs left in float are counted independently of the
    converter with torch.profiler (with_flops=True: aten::conv2d/mm/addmm/bmm/baddbmm, the ops
    whose FLOPs the profiler counts; events inside an xbar:: op are the emulator's own): coverage
    = 1 - (those FLOPs in the converted model) / (those FLOPs in the float model);
  * default policy (PCM, calibrated ADC: calibrated per chip on a separate random batch, then
    read on the test input): finite output whose relative error (Frobenius), averaged over 3
    chips, decreases strictly from 4 to 6 to 8 ADC bits.

Run: XBAR_BIN=build/xbar XBAR_TORCH_LIB=build/libxbar_torch.so /usr/bin/python3 -m unittest -v tests/python/test_coverage.py
"""
import os
import subprocess
import tempfile
import unittest

import torch
import torch.nn as nn

try:
    import torchvision
except ImportError:  # python3-torchvision not installed
    torchvision = None

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("XBAR_SOURCE", os.path.normpath(os.path.join(HERE, "..", "..")))
XBAR_BIN = os.environ.get("XBAR_BIN", os.path.join(SOURCE, "build", "xbar"))
XBAR_TORCH_LIB = os.environ.get("XBAR_TORCH_LIB", os.path.join(SOURCE, "build", "libxbar_torch.so"))
IDEAL = os.path.join(SOURCE, "data", "policies", "ideal.toml")
DEFAULT_FILE = os.path.join(SOURCE, "data", "policies", "default.toml")
IDEAL_TOL = 1e-5
MIN_COVERAGE = 0.99
MATRIX_OPS = {"aten::conv2d", "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}

torch.ops.load_library(XBAR_TORCH_LIB)


class Pair(nn.Module):
    """A module of two inputs (nn.Transformer's src and tgt) as one tuple for script/trace."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, src, tgt):
        return self.inner(src, tgt)


class Attention(nn.Module):
    """Self-attention with a key-padding mask and attention weights, then cross-attention with
    separate query and key/value inputs."""

    def __init__(self):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(32, 4, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x, mem, pad):
        a, w = self.self_attn(x, x, x, key_padding_mask=pad, need_weights=True)
        b, _ = self.cross_attn(a, mem, mem, need_weights=False)
        assert w is not None
        return b + w.sum()


def vit():
    m = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64,
                                             mlp_dim=128, num_classes=10)
    nn.init.normal_(m.heads.head.weight, std=0.1)  # torchvision initialises the head to zero
    return m


def encoder(norm_first=False, activation="relu"):
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, norm_first=norm_first,
                                       activation=activation)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


def transformer():
    return Pair(nn.Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=64,
                               dropout=0.0, batch_first=True))


def inputs(name):
    g = torch.Generator().manual_seed(5)
    if name in ("resnet18", "mobilenet_v3_small", "vit"):
        return (torch.randn(2, 3, 32, 32, generator=g),)
    if name == "transformer":
        return torch.randn(2, 6, 32, generator=g), torch.randn(2, 5, 32, generator=g)
    if name == "attention":
        pad = torch.zeros(2, 6, dtype=torch.bool)
        pad[1, 4:] = True
        return torch.randn(2, 6, 32, generator=g), torch.randn(2, 3, 32, generator=g), pad
    return (torch.randn(2, 6, 32, generator=g),)


def build(name):
    torch.manual_seed(3)
    if name == "resnet18":
        return torchvision.models.resnet18(num_classes=10)
    if name == "mobilenet_v3_small":
        return torchvision.models.mobilenet_v3_small(num_classes=10, dropout=0.0)
    if name == "vit":
        return vit()
    if name == "encoder":
        return encoder()
    if name == "encoder_norm_first_gelu":
        return encoder(True, "gelu")
    if name == "transformer":
        return transformer()
    return Attention()


def float_lines(report):
    return "\n".join(l for l in report.splitlines() if not l.startswith(("analog", "digital")))


def rel_max(a, ref):
    return ((a - ref).abs().max() / ref.abs().max()).item()


def matrix_flops(model, xs, grad):
    """(Matrix-product FLOPs outside xbar ops as torch.profiler counts them, number of convolutions
    outside xbar ops whose FLOPs it does not count: traced models call aten::_convolution)."""
    with torch.set_grad_enabled(grad), torch.profiler.profile(with_flops=True) as prof:
        model(*xs)
    total, uncounted = 0, 0
    for e in prof.events():
        uncounted_conv = e.name in ("aten::_convolution", "aten::conv1d") and not e.flops
        if not uncounted_conv and (e.name not in MATRIX_OPS or not e.flops):
            continue
        p, inside = e.cpu_parent, False
        while p is not None:
            inside = inside or p.name.startswith("xbar::") or p.name in MATRIX_OPS or p.name == "aten::_convolution"
            p = p.cpu_parent
        if not inside:
            total += e.flops or 0
            uncounted += uncounted_conv
    return total, uncounted


class CoverageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if torchvision is None:
            raise unittest.SkipTest("torchvision not installed (apt install python3-torchvision)")
        for p in (XBAR_BIN, XBAR_TORCH_LIB, IDEAL, DEFAULT_FILE):
            if not os.path.exists(p):
                raise unittest.SkipTest(p + " not found (set XBAR_BIN / XBAR_TORCH_LIB)")
        cls.tmp = tempfile.TemporaryDirectory(prefix="xbar_coverage_")
        cls.dir = cls.tmp.name

    def convert(self, module, stem, policy):
        src = os.path.join(self.dir, stem + ".pt")
        out = os.path.join(self.dir, stem + "_xbar.pt")
        torch.jit.save(module, src)
        r = subprocess.run([XBAR_BIN, "convert", src, "--policy", policy, "-o", out], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, "xbar convert failed:\n" + r.stdout + r.stderr)
        return torch.jit.load(out), r.stdout

    def script_or_trace(self, model, xs, how):
        if how == "script":
            return torch.jit.script(model)
        return torch.jit.trace(model, xs, check_trace=False)

    def check_ideal(self, name, how, training):
        xs = inputs(name)
        model = build(name).train(training)
        for mod in model.modules():
            # Training mode with frozen batch-norm statistics (fine-tuning): batch statistics of
            # 2 images at 1x1 pixels would amplify float32 rounding beyond any fixed tolerance.
            if isinstance(mod, nn.BatchNorm2d):
                mod.eval()
        with torch.set_grad_enabled(training):
            m = self.script_or_trace(model, xs, how)
            ref = m(*xs)
        stem = f"{name}_{how}_{'train' if training else 'eval'}"
        conv, rep = self.convert(m, stem, IDEAL)  # keeps every submodule's training flag
        with torch.set_grad_enabled(training):
            out = conv(*xs)
        err = rel_max(out, ref)
        self.assertLess(err, IDEAL_TOL, float_lines(rep))
        # The float FLOPs from the eager model (it calls aten::conv2d, which the profiler counts).
        f_float, _ = matrix_flops(model, xs, training)
        f_left, convs_left = matrix_flops(conv, xs, training)
        self.assertEqual(convs_left, 0, float_lines(rep))
        coverage = 1.0 - f_left / f_float
        print(f"\n  {stem}: rel err {err:.1e}, matrix-product FLOPs {f_float / 1e6:.2f} M, on arrays {coverage:.2%}")
        self.assertGreaterEqual(coverage, MIN_COVERAGE, float_lines(rep))
        return rep

    def test_torchvision_cnns(self):
        for name in ("resnet18", "mobilenet_v3_small"):
            for how in ("script", "trace"):
                for training in (False, True):
                    with self.subTest(model=name, how=how, training=training):
                        self.check_ideal(name, how, training)

    def test_vision_transformer(self):
        for how in ("script", "trace"):
            for training in (False, True):
                with self.subTest(how=how, training=training):
                    rep = self.check_ideal("vit", how, training)
                    self.assertRegex(rep, r"self_attention\.scores\s+\[attn_qk\]")
                    self.assertRegex(rep, r"self_attention\.context\s+\[attn_av\]")
                    self.assertRegex(rep, r"self_attention\.in_proj\s+\[linear\]")

    def test_transformer_encoder_and_decoder(self):
        for name in ("encoder", "encoder_norm_first_gelu", "transformer"):
            for how in ("script", "trace"):
                for training in (False, True):
                    with self.subTest(model=name, how=how, training=training):
                        rep = self.check_ideal(name, how, training)
                        self.assertRegex(rep, r"layers\.0\.self_attn\.scores\s+\[attn_qk\]")
                        self.assertRegex(rep, r"layers\.0\.self_attn\.context\s+\[attn_av\]")
                        self.assertRegex(rep, r"layers\.1\.linear2\s+\[linear\]" if name != "transformer"
                                         else r"decoder\.layers\.0\.multihead_attn\.in_proj\.kv\s+\[linear\]")

    def test_multihead_attention_masks_cross_attention(self):
        for how in ("script", "trace"):
            for training in (False, True):
                with self.subTest(how=how, training=training):
                    rep = self.check_ideal("attention", how, training)
                    self.assertRegex(rep, r"cross_attn\.in_proj\.q\s+\[linear\]")
                    self.assertRegex(rep, r"cross_attn\.context\s+\[attn_av\]")
                    self.assertNotRegex(rep, r"(?m)^float\s.*\((weight|no crossbar)")

    def test_noisy_error_decreases_with_adc_bits(self):
        for name in ("vit", "encoder"):
            xs = inputs(name)
            g = torch.Generator().manual_seed(9)
            cal = tuple(torch.randn(x.shape, generator=g) if x.is_floating_point() else x for x in xs)
            m = torch.jit.script(build(name).eval())
            with torch.no_grad():
                ref = m(*xs)
            errs = []
            for bits in (4, 6, 8):
                policy = os.path.join(self.dir, f"default_adc{bits}.toml")
                with open(DEFAULT_FILE) as f, open(policy, "w") as o:
                    o.write(f.read() + f'\n[[override]]\nmatch = "*"\n[override.adc]\nbits = {bits}\n')
                conv, _ = self.convert(m, f"{name}_adc{bits}", policy)
                layers = [getattr(conv, a) for a in conv.xbar_layer_attributes]
                e = 0.0
                for chip in range(3):
                    for l in layers:
                        l.set_chip(chip)
                        l.set_calibrating(True)
                    with torch.no_grad():
                        conv(*cal)
                    for l in layers:
                        l.set_calibrating(False)
                    with torch.no_grad():
                        out = conv(*xs)
                    self.assertTrue(torch.isfinite(out).all())
                    e += ((out - ref).norm() / ref.norm()).item() / 3
                errs.append(e)
            print(f"\n  {name}: mean relative error over 3 chips at ADC bits 4, 6, 8: " +
                  ", ".join(f"{e:.3g}" for e in errs))
            self.assertGreater(errs[0], errs[1], name)
            self.assertGreater(errs[1], errs[2], name)


if __name__ == "__main__":
    unittest.main()
