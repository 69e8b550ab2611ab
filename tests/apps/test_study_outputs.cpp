// A study's results files are its own: byte-identical reruns, a lock against a second process, no
// overwriting of a file it did not write, a full disk that leaves finished results untouched, and
// device files of every grid point checked before any point runs.
#include "tests/ml/torch_doctest.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "common/file_lock.h"
#include "common/h5io.h"
#include "apps/study.h"
#include "tests/apps/study_test_support.h"
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
