// Studies beyond one process: shards + merge, rerun from a results file, cost order, and (when
// built with MPI) mpirun runs, a stopped MPI run resumed, and a worker error that ends the job.
// Every comparison is to a single-process run of the same study: values must be identical.
#include "tests/ml/torch_doctest.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/h5io.h"
#include "common/sha256.h"
#include "apps/point_cost.h"
#include "apps/results.h"
#include "apps/study.h"
#include "tests/apps/study_test_support.h"

using namespace xbar;
using xbar::test::slurp, xbar::test::src, xbar::test::tmpdir;

namespace {
std::string bin() {
  const char* b = std::getenv("XBAR_BIN");
  REQUIRE_MESSAGE(b != nullptr, "XBAR_BIN must point at the xbar executable (set by CTest)");
  return b;
}
// A tiny study (MLP, 400 images, adc.bits {4, 8} x 2 chips = 4 points, about a second each).
std::string study(const std::string& name, const std::string& grid = "\"adc.bits\" = [4, 8]\n") {
  const std::string p = tmpdir() + "/" + name + ".toml";
  std::ofstream(p) << "[study]\nmodel = \"" << src("data/models/mlp.pt") << "\"\ntask = \"fashion_mnist\"\npolicy = \""
                   << src("data/policies/default.toml") << "\"\noutput = \"" << tmpdir() << "/" << name
                   << "\"\nrepeats = 2\nsamples = 400\n[grid]\n"
                   << grid;
  return p;
}
int sh(const std::string& cmd) {
  std::fflush(stdout);
  const int rc = std::system((cmd + " > /dev/null 2>" + tmpdir() + "/stderr.txt").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}
std::string last_stderr() { return slurp(tmpdir() + "/stderr.txt"); }
// The single-process reference, run once.
const std::string& reference() {
  static std::string base = [] {
    REQUIRE(sh(bin() + " sweep " + study("ref")) == 0);
    return tmpdir() + "/ref";
  }();
  return base;
}
// Values of two results files: every per-point dataset and the study identity.
void check_same_results(const std::string& a, const std::string& b) {
  INFO(a << " vs " << b);
  CHECK(slurp(a + ".csv") == slurp(b + ".csv"));
  h5::Reader ra(a + ".h5"), rb(b + ".h5");
  for (const char* d : {"index", "repeat", "seed", "metric", "saturation_fraction"}) {
    INFO(d);
    CHECK(ra.read(d, 1, false).data == rb.read(d, 1, false).data);
  }
  for (const char* d : {"config_toml", "device_sha256", "/grid/adc.bits"}) CHECK(ra.read_strings(d) == rb.read_strings(d));
  for (const char* at : {"fingerprint", "model_sha256", "policy_toml", "xbar_version"})
    CHECK(ra.attr_string("/", at) == rb.attr_string("/", at));
  CHECK(ra.attr_double("/", "float_metric") == rb.attr_double("/", "float_metric"));
}
int rows(const std::string& base) { return int(read_h5(base + ".h5").rows.size()); }
}  // namespace

TEST_CASE("the reference results file records what reproduces each point") {
  const Results r = read_h5(reference() + ".h5");
  REQUIRE(r.rows.size() == 4);
  CHECK(r.meta.points_total == 4);
  CHECK(r.meta.xbar_version.find("0.1.0") == 0);
  CHECK(r.meta.model_sha256.size() == 64);
  CHECK(r.meta.policy_toml == slurp(src("data/policies/default.toml")));
  CHECK(r.meta.samples == 400);
  CHECK(r.rows.at(3).repeat == 1);
  CHECK(r.rows.at(3).config_toml.find("bits = 8") != std::string::npos);
  CHECK(r.rows.at(0).device_sha256.empty());  // default.toml uses the parametric pcm model
  // A file-based device: its sha256 is recorded with the point.
  const std::string pol = tmpdir() + "/file_device_policy.toml";
  std::ofstream(pol) << "[device]\nmodel = \"file\"\nfile = \"" << src("data/devices/rram.h5") << "\"\n";
  std::string text = slurp(study("file_device"));
  text.replace(text.find(src("data/policies/default.toml")), src("data/policies/default.toml").size(), pol);
  std::ofstream(tmpdir() + "/file_device.toml2") << text;
  const StudySpec s = load_study(tmpdir() + "/file_device.toml2");
  const ResultRow fr = make_row(s, load_policy(pol), study_points(s)[1], 50.0, 0.0);
  CHECK(fr.device_sha256 == sha256_file(src("data/devices/rram.h5")));
  CHECK(fr.repeat == 1);
  CHECK(fr.seed == 1);
}

TEST_CASE("shards 0/2 and 1/2 merged equal the single-process results") {
  const std::string s = study("sharded");
  REQUIRE(sh(bin() + " sweep " + s + " --shard 0/2") == 0);
  REQUIRE(sh(bin() + " sweep " + s + " --shard 1/2") == 0);
  const std::string a = tmpdir() + "/sharded.shard0-of-2", b = tmpdir() + "/sharded.shard1-of-2";
  CHECK(rows(a) == 2);
  CHECK(read_h5(a + ".h5").rows.count(2) == 1);  // index % 2 == 0
  const std::string m = tmpdir() + "/merged";
  REQUIRE(sh(bin() + " merge " + m + " " + a + ".h5 " + b) == 0);
  check_same_results(reference(), m);
  // One shard alone: written, but the missing points are listed and the exit code says so.
  CHECK(sh(bin() + " merge " + tmpdir() + "/half " + a) == 1);
  CHECK(last_stderr().find("2 of 4 points missing: 1 3") != std::string::npos);
  // A shard of another study definition (a different grid) is refused, naming the file.
  const std::string o = study("other", "\"adc.bits\" = [4, 6]\n");
  REQUIRE(sh(bin() + " sweep " + o + " --shard 1/2") == 0);
  CHECK(sh(bin() + " merge " + tmpdir() + "/bad " + a + " " + tmpdir() + "/other.shard1-of-2") == 2);
  CHECK(last_stderr().find("other.shard1-of-2.h5: results of a different study definition") != std::string::npos);
  CHECK(sh(bin() + " sweep " + s + " --shard 2/2") == 2);
  CHECK(last_stderr().find("--shard = 2/2") != std::string::npos);
}

TEST_CASE("rerun reproduces a point bit for bit and refuses a changed model") {
  REQUIRE(sh(bin() + " rerun " + reference() + ".h5 --point 2") == 0);
  CHECK(sh(bin() + " rerun " + reference() + ".h5 --point 7") == 2);
  CHECK(last_stderr().find("--point = 7") != std::string::npos);
  // The same results with the model replaced by another file: the hash check must catch it.
  const std::string copy = tmpdir() + "/model_copy.pt", res = tmpdir() + "/moved";
  std::ofstream(copy, std::ios::binary) << slurp(src("data/models/mlp.pt")) << "x";
  Results r = read_h5(reference() + ".h5");
  r.meta.model = copy;
  write_h5(r, res + ".h5");
  CHECK(sh(bin() + " rerun " + res + ".h5 --point 2") == 2);
  CHECK(last_stderr().find("model_copy.pt: the model changed since the results were written") != std::string::npos);
  // A file-based device whose file no longer has the recorded sha256 (checked before evaluating).
  r.meta.model = src("data/models/mlp.pt");
  const std::string dev = tmpdir() + "/device_copy.h5";
  std::ofstream(dev, std::ios::binary) << slurp(src("data/devices/pcm.h5"));
  ResultRow& row = r.rows.at(2);
  const std::string cfg = row.config_toml;
  row.config_toml.replace(row.config_toml.find("model = 'pcm'"), 13, "model = 'file'");
  row.config_toml.replace(row.config_toml.find("file = ''"), 9, "file = '" + dev + "'");
  row.device_sha256 = sha256_file(src("data/devices/rram.h5"));
  write_h5(r, res + ".h5");
  CHECK(sha256_file(dev) == sha256_file(src("data/devices/pcm.h5")));
  CHECK(sh(bin() + " rerun " + res + ".h5 --point 2") == 2);
  CHECK(last_stderr().find("device_copy.h5: the device file changed") != std::string::npos);
  row.config_toml = cfg;
  row.device_sha256 = "";
  // A stored metric that the run does not reproduce: exit 1.
  r.rows.at(2).metric += 1e-9;
  write_h5(r, res + ".h5");
  CHECK(sh(bin() + " rerun " + res + ".h5 --point 2") == 1);
}

TEST_CASE("points are handed out costliest first, ties in definition order") {
  const StudySpec s = load_study(study("cost", "\"dac.slice_bits\" = [0, 1]\n\"mapping.cell_bits\" = [0, 2]\n"));
  const auto pts = study_points(s);
  REQUIRE(pts.size() == 8);
  // default.toml: 8-bit signed DAC and weights, differential. slice_bits 1: 7 input slices;
  // cell_bits 2: 4 weight slices. Costs by grid point (0,0) 2, (0,2) 8, (1,0) 14, (1,2) 56.
  CHECK(point_cost(point_policy(load_policy(s.policy), s, pts[6].values).defaults) == 56.0);
  const auto order = costliest_first(s, load_policy(s.policy), pts);
  CHECK(order == std::vector<int64_t>{6, 7, 4, 5, 2, 3, 0, 1});
}

#ifdef XBAR_TEST_MPIEXEC
namespace {
std::string mpirun(int n) { return std::string(XBAR_TEST_MPIEXEC) + " -n " + std::to_string(n) + " --oversubscribe --allow-run-as-root "; }
}  // namespace

TEST_CASE("mpirun -n 2 gives the single-process results, also after a stop and resume") {
  const std::string s = study("mpi");
  REQUIRE(sh(mpirun(2) + bin() + " sweep " + s) == 0);
  check_same_results(reference(), tmpdir() + "/mpi");
  // Stopped after the first result under MPI (points in flight still land), resumed under MPI.
  const std::string s2 = study("mpi_resumed");
  REQUIRE(sh(mpirun(2) + bin() + " sweep " + s2 + " --stop-after 1") == 0);
  const int done = rows(tmpdir() + "/mpi_resumed");
  INFO("rows after the stop: " << done);
  CHECK(done >= 1);
  CHECK(done < 4);
  REQUIRE(sh(mpirun(2) + bin() + " sweep " + s2) == 0);
  CHECK(last_stderr().find("resuming: " + std::to_string(done) + " of 4") != std::string::npos);
  check_same_results(reference(), tmpdir() + "/mpi_resumed");
  // Single process stopped, resumed under MPI with 3 ranks (more ranks than points left).
  const std::string s3 = study("single_then_mpi");
  REQUIRE(sh(bin() + " sweep " + s3 + " --stop-after 1") == 0);
  REQUIRE(rows(tmpdir() + "/single_then_mpi") == 1);
  REQUIRE(sh(mpirun(3) + bin() + " sweep " + s3) == 0);
  check_same_results(reference(), tmpdir() + "/single_then_mpi");
}

TEST_CASE("an error on an MPI rank ends the job with the message instead of hanging") {
  // Points 2 and 3 (device.model = file) read a device file that is not HDF5: whichever rank
  // gets them fails (the grid check cannot see it; only reading the file does).
  const std::string bad = tmpdir() + "/not_a_device.h5", pol = tmpdir() + "/bad_policy.toml";
  std::ofstream(bad) << "not hdf5";
  std::ofstream(pol) << "[device]\nmodel = \"pcm\"\nfile = \"" << bad << "\"\n";
  std::string text = slurp(study("mpi_error", "\"device.model\" = [\"pcm\", \"file\"]\n"));
  text.replace(text.find(src("data/policies/default.toml")), src("data/policies/default.toml").size(), pol);
  const std::string s = tmpdir() + "/mpi_error.toml";
  std::ofstream(s) << text;
  const int rc = sh("timeout 300 " + mpirun(2) + bin() + " sweep " + s);
  CHECK(rc != 0);
  CHECK(rc != 124);  // not the timeout
  CHECK(last_stderr().find("not_a_device.h5") != std::string::npos);
  CHECK(last_stderr().find("(rank ") != std::string::npos);
}
#endif
