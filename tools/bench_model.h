// xbar bench model / eval-cost: whole converted models timed beside their float twins, and the
// cost model's counting overhead on a whole evaluation (tools/bench_model.cpp).
#pragma once
#include <string>

namespace xbar::cli {

bool is_model_bench(const std::string& what);  // "model" or "eval-cost"
int cmd_bench_model(int argc, char** argv);    // argv[1]: model or eval-cost

}  // namespace xbar::cli
