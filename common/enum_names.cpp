#include "common/enum_names.h"

#include <algorithm>

#include "common/error.h"

namespace xbar {

std::string closest_name(const std::string& key, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& n : names) {
    std::vector<size_t> prev(n.size() + 1), cur(n.size() + 1);
    for (size_t j = 0; j <= n.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= key.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= n.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (key[i - 1] != n[j - 1])});
      std::swap(prev, cur);
    }
    if (prev[n.size()] < best_d) {
      best_d = prev[n.size()];
      best = n;
    }
  }
  return best;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return all;
}

void throw_unknown_name(const std::string& what, const std::string& text, const std::vector<std::string>& names) {
  const std::string hint = closest_name(text, names);
  throw ConfigError(what, "\"" + text + "\"",
                    "must be one of: " + join_names(names) + (hint.empty() ? "" : " (did you mean " + hint + "?)"));
}

}  // namespace xbar
