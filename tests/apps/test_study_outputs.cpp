// A study's results files are its own: byte-identical reruns, a lock against a second process, no
// overwriting of a file it did not write, a full disk that leaves finished results untouched, and
// device files of every grid point checked before any point runs, and the data set named in both files.
#include "tests/ml/torch_doctest.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "common/file_lock.h"
#include "common/h5io.h"
#include "apps/results.h"
#include "apps/study.h"
#include "tests/apps/study_test_support.h"
#include "tests/ml/idx_test_data.h"
#include "tests/tools/cli_run.h"

using namespace xbar;
using xbar::test::slurp, xbar::test::src, xbar::test::tmpdir;
namespace fs = std::filesystem;

namespace {
// Two points of the 7k-parameter CNN on 200 images: about a second each.
std::string small_study(const std::string& name, const std::string& grid = "\"adc.bits\" = [4, 6]\n") {
  const std::string out = tmpdir() + "/" + name, p = tmpdir() + "/" + name + ".toml";
  std::ofstream(p) << "[study]\nmodel = \"" << src("data/models/cnn7k.pt") << "\"\ntask = \"fashion_mnist\"\npolicy = \""
                   << src("data/policies/default.toml") << "\"\noutput = \"" << out
                   << "\"\nrepeats = 1\nsamples = 200\n[grid]\n" << grid;
  return p;
}
std::string out_of(const std::string& study_path) { return study_path.substr(0, study_path.size() - 5); }
int temporaries() {
  int n = 0;
  for (const auto& e : fs::directory_iterator(tmpdir())) n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}
}  // namespace

TEST_CASE("two uninterrupted runs of a study write byte-identical results files") {
  const std::string s = small_study("identical"), out = out_of(s);
  REQUIRE(test::run_xbar("sweep " + s).code == 0);
  const std::string csv = slurp(out + ".csv"), h5 = slurp(out + ".h5");
  fs::remove(out + ".csv");
  fs::remove(out + ".h5");
  sleep(1);  // HDF5 object timestamps have a resolution of one second
  REQUIRE(test::run_xbar("sweep " + s).code == 0);
  CHECK(slurp(out + ".csv") == csv);
  CHECK(slurp(out + ".h5") == h5);
  CHECK_FALSE(fs::exists(out + ".lock"));
}

TEST_CASE("a study holds a lock on its output and refuses a results file it did not write") {
  const std::string s = small_study("locked"), out = out_of(s);
  {
    FileLock other(out, "study output");  // as a concurrent sweep holds it
    CHECK_THROWS_WITH_AS(run_study(load_study(s), StudyOptions{false, 0}),
                         doctest::Contains(("study output " + out + " is in use by PID " + std::to_string(::getpid())).c_str()),
                         FileError);
  }
  CHECK_FALSE(fs::exists(out + ".csv"));
  // A user's own .h5 at the output name, without the study's CSV: kept, never overwritten.
  const std::string foreign = out_of(small_study("foreign"));
  {
    h5::Writer w(foreign + ".h5");
    w.write("mine", std::vector<double>{1, 2, 3}, {3});
    w.close();
  }
  const std::string before = slurp(foreign + ".h5");
  CHECK_THROWS_WITH_AS(run_study(load_study(foreign + ".toml"), StudyOptions{false, 0}),
                       doctest::Contains((foreign + ".h5: exists and is not an xbar study results file").c_str()), FileError);
  CHECK(slurp(foreign + ".h5") == before);
}

TEST_CASE("a resumed study on a full disk fails cleanly and leaves its results byte-identical") {
  const std::string s = small_study("full_disk"), out = out_of(s);
  REQUIRE(test::run_xbar("sweep " + s + " --stop-after 1").code == 0);
  const std::string csv = slurp(out + ".csv"), h5 = slurp(out + ".h5");
  REQUIRE(h5.size() > 8192);
  // The next point's rewritten results file does not fit.
  const test::Run r = test::run_xbar_limited("sweep " + s, 8192, tmpdir() + "/full_disk.log");
  INFO(r.out);
  CHECK(r.code > 0);
  CHECK(r.code < 128);
  CHECK(r.out.find("File too large") != std::string::npos);
  CHECK(slurp(out + ".csv") == csv);
  CHECK(slurp(out + ".h5") == h5);
  CHECK(temporaries() == 0);
  // With space again it resumes and finishes.
  REQUIRE(test::run_xbar("sweep " + s).code == 0);
  CHECK(h5::Reader(out + ".h5").read("index").data.size() == 2);
}

TEST_CASE("a grid point naming a missing device file fails before any point runs") {
  const std::string policy = tmpdir() + "/file_device_policy.toml";
  std::ofstream(policy) << "[device]\nmodel = \"file\"\nfile = \"" << src("data/devices/pcm.h5") << "\"\n";
  std::string text = slurp(small_study("missing_device", "\"device.file\" = [\"" + src("data/devices/pcm.h5") +
                                                             "\", \"/nonexistent/dev.h5\"]\n"));
  const std::string default_policy = src("data/policies/default.toml");
  text.replace(text.find(default_policy), default_policy.size(), policy);
  const std::string s = tmpdir() + "/missing_device.toml";
  std::ofstream(s) << text;
  CHECK_THROWS_WITH_AS(run_study(load_study(s), StudyOptions{false, 0}), doctest::Contains("/nonexistent/dev.h5"),
                       FileError);
  CHECK_FALSE(fs::exists(out_of(s) + ".csv"));
}

TEST_CASE("a study on its own IDX data names it in both results files and reruns on it; convert calibrates on it") {
  const std::string dir = tmpdir() + "/bars";
  test::write_idx_set(dir, 200, 60);
  std::string text = slurp(small_study("own_data", "\"adc.bits\" = [6]\n"));
  text.replace(text.find("samples = 200"), 13, "samples = 50\ndata = \"" + dir + "\"");
  const std::string s = tmpdir() + "/own_data.toml", out = out_of(s);
  std::ofstream(s) << text;
  const test::Run run = test::run_xbar("sweep " + s);
  INFO(run.out);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("accuracy_percent on 50 test images of bars") != std::string::npos);
  const std::string csv = slurp(out + ".csv");
  CHECK(csv.substr(csv.find('\n') + 1, csv.find("index") - csv.find('\n') - 1) == "# data 50 test images of bars\n");
  const Results r = read_h5(out + ".h5");
  CHECK(r.meta.data == "50 test images of bars");
  CHECK(r.meta.data_dir == dir);
  // The stored metric is the one of the bars images (an independent evaluation on them), which
  // differs from the one of the default data set's first 50 test images.
  const StudySpec spec = load_study(s);
  const Policy base = load_policy(spec.policy);
  const double bars = evaluate_point(spec.model, point_policy(base, spec, {"6"}), 0, study_data(spec)).metric;
  StudySpec fashion = spec;
  fashion.data.clear();
  const double dflt = evaluate_point(spec.model, point_policy(base, spec, {"6"}), 0, study_data(fashion)).metric;
  CHECK(r.rows.at(0).metric == bars);
  CHECK(bars != dflt);
  const test::Run again = test::run_xbar("rerun " + out + ".h5 --point 0");
  INFO(again.out);
  CHECK(again.code == 0);
  CHECK(again.out.find("data 50 test images of bars") != std::string::npos);
  // Fewer images in the directory than the study evaluated: refused, naming both.
  test::write_idx_set(dir, 200, 40);
  const test::Run shrunk = test::run_xbar("rerun " + out + ".h5 --point 0");
  CHECK(shrunk.code == 2);
  CHECK(shrunk.out.find("evaluated 50 test images of bars") != std::string::npos);
  CHECK(shrunk.out.find("now holds 40 test images of bars") != std::string::npos);
  // xbar convert --calibrate reads the training images of --data, not the default's.
  const std::string conv = "convert " + src("data/models/cnn7k.pt") + " -p " + src("data/policies/default.toml") +
                           " --calibrate fashion_mnist -o " + tmpdir();
  const test::Run own = test::run_xbar(conv + "/cal_bars.pt --data " + dir), deflt = test::run_xbar(conv + "/cal_default.pt");
  INFO(own.out);
  REQUIRE(own.code == 0);
  REQUIRE(deflt.code == 0);
  CHECK(own.out.find("calibration: fashion_mnist train 180 samples seed 1 (bars)") != std::string::npos);
  CHECK(slurp(tmpdir() + "/cal_bars.pt") != slurp(tmpdir() + "/cal_default.pt"));
}
