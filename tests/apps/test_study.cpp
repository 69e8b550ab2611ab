// Studies end to end: bad study files, ideal policy == float, kill + resume == uninterrupted.
#include "tests/ml/torch_doctest.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "common/h5io.h"
#include "ml/evaluate.h"
#include "apps/study.h"
#include "torch/convert.h"
#include "tests/apps/study_test_support.h"

using namespace xbar;
using xbar::test::slurp, xbar::test::src, xbar::test::tmpdir;

namespace {
std::string write(const std::string& name, const std::string& text) {
  const std::string p = tmpdir() + "/" + name;
  std::ofstream(p) << text;
  return p;
}
std::string study_text(const std::string& output, const std::string& extra_grid = "") {
  return "[study]\nmodel = \"" + src("data/models/cnn.pt") + "\"\ntask = \"fashion_mnist\"\npolicy = \"" +
         src("data/policies/default.toml") + "\"\noutput = \"" + output + "\"\nrepeats = 2\nsamples = 3000\n[grid]\n" +
         "\"adc.bits\" = [4, 6, 8]\n" + extra_grid;
}
int count_rows(const std::string& csv) {
  std::ifstream f(csv);
  int n = 0;
  std::string l;
  while (std::getline(f, l))
    if (!l.empty() && l[0] != '#' && l.rfind("index", 0) != 0 && !f.eof()) ++n;
  return n;
}
}  // namespace

TEST_CASE("bad study files get clear errors naming the file and key") {
  const std::string ok = study_text(tmpdir() + "/x");
  auto err = [&](const std::string& text) {
    const std::string p = write("bad.toml", text);
    try {
      load_study(p);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  CHECK(err(ok + "\"adc.bitz\" = [4]\n").find("did you mean adc.bits") != std::string::npos);
  CHECK(err(ok + "\"dac.bits\" = [-2]\n").find("dac.bits = -2") != std::string::npos);
  CHECK(err(ok + "\"dac.bits\" = []\n").find("non-empty array") != std::string::npos);
  std::string t = ok;
  t.replace(t.find("repeats = 2"), 11, "repeat = 2");
  CHECK(err(t).find("did you mean study.repeats") != std::string::npos);
  t = ok;
  t.replace(t.find("fashion_mnist"), 13, "imagenet");
  CHECK(err(t).find("study.task") != std::string::npos);
  t = ok;
  t.replace(t.find(src("data/models/cnn.pt")), src("data/models/cnn.pt").size(), "/nonexistent/m.pt");
  CHECK(err(t).find("/nonexistent/m.pt") != std::string::npos);
  CHECK(err("[study\n").find("bad.toml:1") != std::string::npos);
  // The shape of every TOML syntax error (as policies and configs): FileError FILE:LINE:COLUMN: why.
  CHECK_THROWS_AS(parse_study("[study]\nmodel = 'x'\n[grid\n", "s.toml"), FileError);
  const std::string m = err("[study]\nmodel = 'x'\n[grid\n");
  CHECK(std::regex_match(m, std::regex(R"(^\S*/bad\.toml:3:\d+: \S.*)")));
  // Fuzz regression: 3 x 10 x 100000 points would be materialised by study_points.
  t = ok + "\"dac.bits\" = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n";
  t.replace(t.find("repeats = 2"), 11, "repeats = 100000");
  CHECK(err(t).find("more than 1000000 points") != std::string::npos);
  CHECK(err(ok + "[gird]\n").find("did you mean [grid]") != std::string::npos);
}

TEST_CASE("the ideal policy reproduces the float accuracy exactly") {
  const EvalData d = load_eval_data(Task::fashion_mnist, 2000, 0);
  torch::jit::Module f = torch::jit::load(src("data/models/mlp.pt"));
  torch::jit::Module m = torch::jit::load(src("data/models/mlp.pt"));
  convert_module(m, load_policy(src("data/policies/ideal.toml")));
  const double af = evaluate(f, d), aa = evaluate(m, d);
  CHECK(af > 80);
  CHECK(aa == af);
}

TEST_CASE("decode through the KV cache gives the prefill bits per character on the same windows") {
  // Float GPT: token-by-token decode must predict exactly what the full-window forward predicts;
  // float32 logits summed over 2 x 128 predictions: agreement to 1e-4 bit/char.
  torch::jit::Module g = torch::jit::load(src("data/models/gpt.pt"));
  const int64_t ctx = g.attr("context_len").toInt();
  EvalData d = load_eval_data(Task::text, 2 * ctx + 1, 0);
  const double prefill = evaluate(g, d), decode = evaluate_decode(g, d, 2);
  CHECK(prefill > 1.0);
  CHECK(decode == doctest::Approx(prefill).epsilon(1e-4));
  torch::jit::Module a = torch::jit::load(src("data/models/gpt.pt"));
  convert_module(a, load_policy(src("data/policies/default.toml")));
  const double noisy = evaluate_decode(a, d, 2);
  CHECK(noisy != decode);  // the analog decode path (KV cache on arrays) really ran
  CHECK(noisy < 8.0);
}

TEST_CASE("a study killed mid-way and resumed writes the same results as an uninterrupted one") {
  const char* bin = std::getenv("XBAR_BIN");
  REQUIRE_MESSAGE(bin != nullptr, "XBAR_BIN must point at the xbar executable (set by CTest)");
  const std::string a = tmpdir() + "/full", b = tmpdir() + "/killed";
  const std::string sa = write("full.toml", study_text(a)), sb = write("killed.toml", study_text(b));
  REQUIRE(std::system((std::string(bin) + " sweep " + sa + " > /dev/null 2>&1").c_str()) == 0);
  REQUIRE(count_rows(a + ".csv") == 6);
  // Start the same study, kill -9 it once the first point is on disk, then run it again.
  std::fflush(stdout);  // the child must not flush our buffered output a second time
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(bin, bin, "sweep", sb.c_str(), (char*)nullptr);
    _exit(127);
  }
  for (int i = 0; i < 6000 && count_rows(b + ".csv") < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  const int rows_at_kill = count_rows(b + ".csv");
  INFO("rows when killed: " << rows_at_kill);
  REQUIRE(rows_at_kill >= 1);
  REQUIRE(rows_at_kill < 6);  // it really was interrupted
  REQUIRE(std::system((std::string(bin) + " sweep " + sb + " > /dev/null 2>&1").c_str()) == 0);
  CHECK(slurp(a + ".csv") == slurp(b + ".csv"));
  h5::Reader ra(a + ".h5"), rb(b + ".h5");
  CHECK(ra.read("metric").data == rb.read("metric").data);
  CHECK(ra.read("index").data == rb.read("index").data);
  CHECK(ra.attr_string("/", "fingerprint") == rb.attr_string("/", "fingerprint"));
  // A different study definition must not resume into these results.
  const std::string other = write("other.toml", study_text(b, "\"dac.bits\" = [6]\n"));
  CHECK_THROWS_WITH_AS(run_study(load_study(other), StudyOptions{false, 0}), doctest::Contains("different study"),
                       FileError);
}
