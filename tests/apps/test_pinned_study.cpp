// Regression pin: study points (conversion with a policy, programming, evaluation) must stay
// bit-identical across refactors. tests/golden/study_points.txt holds metric and saturation of
// each point as hex floats, written by the code before it was restructured
// (XBAR_WRITE_GOLDEN=1 rewrites it: only for an intended change of numerics, stated in the commit).
#include "tests/ml/torch_doctest.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/policy.h"
#include "apps/study.h"
#include "tests/apps/study_test_support.h"

using namespace xbar;
using xbar::test::src;

TEST_CASE("pinned study points are bit-identical to the stored golden metrics") {
  struct P {
    const char* model;
    const char* task;
    const char* policy;
    std::vector<const char*> set;
    int chip;
  };
  // default.toml points pin the conservative default chip (worst-case ADC ranges, no calibration
  // pass): their numerics are those of the engine alone, unchanged by the calibration protocol.
  const std::string worst_case = "\n[[override]]\nmatch = \"*\"\n[override.adc]\nrange = \"worst_case\"\n";
  const std::vector<P> points = {
      {"data/models/cnn.pt", "fashion_mnist", "data/policies/default.toml", {}, 0},
      {"data/models/cnn.pt", "fashion_mnist", "data/policies/default.toml", {"adc.bits=5"}, 1},
      {"data/models/cnn.pt", "fashion_mnist", "data/policies/pcm_adc6.toml", {"run.t_inference_s=86400"}, 2},
      {"data/models/vit.pt", "fashion_mnist", "data/policies/pcm_adc6.toml", {"drift_compensation.mode=\"global\""}, 0},
      {"data/models/mlp.pt", "fashion_mnist", "data/policies/prop03_adc6.toml", {}, 4},
      {"data/models/gpt.pt", "text", "data/policies/default.toml", {}, 1},
  };
  std::vector<std::string> got;
  const EvalData img = load_eval_data(Task::fashion_mnist, 300, 0);
  for (const auto& p : points) {
    std::string text;
    {
      std::ifstream f(src(p.policy));
      text.assign(std::istreambuf_iterator<char>(f), {});
    }
    if (std::string(p.policy) == "data/policies/default.toml") text += worst_case;
    // Each setting as a last override rule matching every operator.
    for (const char* kv : p.set) {
      std::string s(kv);
      const auto dot = s.find('.'), eq = s.find('=');
      text += "\n[[override]]\nmatch = \"*\"\n[override." + s.substr(0, dot) + "]\n" + s.substr(dot + 1, eq - dot - 1) +
              " = " + s.substr(eq + 1) + "\n";
    }
    const Policy pol = parse_policy(text, p.policy);
    EvalData d;
    if (parse_enum<Task>("task", p.task) == Task::text) {
      torch::jit::Module g = torch::jit::load(src(p.model));
      d = load_eval_data(Task::text, 2 * g.attr("context_len").toInt() + 1, 0);
    }
    const PointResult r = evaluate_point(src(p.model), pol, p.chip, parse_enum<Task>("task", p.task) == Task::text ? d : img);
    char buf[160];
    const std::string model(p.model), policy(p.policy);  // file names only: the folders may move
    std::snprintf(buf, sizeof buf, "%s %s chip%d %a %a", model.substr(model.rfind('/') + 1).c_str(),
                  policy.substr(policy.rfind('/') + 1).c_str(), p.chip, r.metric, r.saturation);
    std::string line(buf);
    for (const char* kv : p.set) line += std::string(" ") + kv;
    got.push_back(line);
  }
  const std::string path = src("tests/golden/study_points.txt");
  if (const char* w = std::getenv("XBAR_WRITE_GOLDEN"); w && std::string(w) == "1") {
    std::ofstream f(path);
    for (const auto& l : got) f << l << "\n";
    MESSAGE("wrote " << path);
    return;
  }
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "missing " << path);
  std::vector<std::string> want;
  for (std::string l; std::getline(f, l);)
    if (!l.empty()) want.push_back(l);
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == want[i]);
}
