"""tools/plot_tune.py: the Pareto front against a brute-force dominance check, the front's direction
per metric, and one panel per phase."""
import csv
import importlib.util
import os
import random
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("XBAR_SOURCE", os.getcwd())
SCRIPT = os.path.join(SOURCE, "tools", "plot_tune.py")
spec = importlib.util.spec_from_file_location("plot_tune", SCRIPT)
plot_tune = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_tune)

HEADER = ["kind", "label", "max_loss", "metric", "decode_metric", "loss_mean", "loss_upper", "objective",
          "objective_name", "metric_name"]


def dominated(p, points, higher_better):
    """Some other point at most as costly and at least as good, strictly better in one of the two."""
    for q in points:
        better = q[1] >= p[1] if higher_better else q[1] <= p[1]
        strictly = q[0] < p[0] or (q[1] > p[1] if higher_better else q[1] < p[1])
        if q != p and q[0] <= p[0] and better and strictly:
            return True
    return False


def write(d, rows):
    with open(os.path.join(d, "pareto.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)


class PlotTune(unittest.TestCase):
    def test_front_is_the_undominated_set(self):
        rng = random.Random(3)
        for higher_better in (True, False):
            for _ in range(200):
                pts = list({(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(rng.randint(1, 15))})
                expect = sorted(p for p in pts if not dominated(p, pts, higher_better))
                self.assertEqual(sorted(plot_tune.front(pts, higher_better)), expect, (pts, higher_better))

    def test_one_panel_per_phase_and_direction_from_the_metric(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, [["base", "base", 0, 3.44, 3.44, 0, 0, 13600, "converter_energy_pJ", "bits_per_char"],
                      ["uniform", "adc.bits=8", "", 3.45, 3.44, 0.1, 0.2, 13400, "converter_energy_pJ", "bits_per_char"],
                      ["tuned", "X=1", 1, 3.46, 3.45, 0.4, 0.6, 12100, "converter_energy_pJ", "bits_per_char"]])
            subprocess.run([sys.executable, SCRIPT, d], check=True)
            self.assertTrue(os.path.getsize(os.path.join(d, "pareto.png")) > 10000)
            import matplotlib.image
            two = matplotlib.image.imread(os.path.join(d, "pareto.png"))
            write(d, [["base", "base", 0, 91.2, "", 0, 0, 53000, "converter_energy_pJ", "accuracy_percent"],
                      ["tuned", "X=0.5", 0.5, 91.1, "", 0.1, 0.4, 46000, "converter_energy_pJ", "accuracy_percent"]])
            subprocess.run([sys.executable, SCRIPT, d], check=True)
            one = matplotlib.image.imread(os.path.join(d, "pareto.png"))
            # Two panels side by side: a wider figure at the same height.
            self.assertEqual(two.shape[0], one.shape[0])
            self.assertGreater(two.shape[1], 1.5 * one.shape[1])


if __name__ == "__main__":
    unittest.main()
