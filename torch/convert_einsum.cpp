#include "torch/convert_einsum.h"

#include <set>
#include <string>

namespace xbar {

namespace {

// Terms with "..." as one character '*'; nothing when an index repeats within a term.
std::optional<std::string> term(std::string t) {
  const size_t e = t.find("...");
  if (e != std::string::npos) t.replace(e, 3, "*");
  if (std::set<char>(t.begin(), t.end()).size() != t.size()) return std::nullopt;
  return t;
}

bool has(const std::string& s, char c) { return s.find(c) != std::string::npos; }

}  // namespace

std::optional<EinsumProduct> einsum_product(torch::jit::Node* n) {
  auto eq = torch::jit::toIValue(n->input(0));
  torch::jit::Node* list = n->input(1)->node();
  if (!eq || !eq->isString() || list->kind() != c10::prim::ListConstruct || list->inputs().size() != 2)
    return std::nullopt;
  std::string s;
  for (char c : eq->toStringRef())
    if (c != ' ') s += c;
  const size_t arrow = s.find("->"), comma = s.find(',');
  if (arrow == std::string::npos || comma == std::string::npos || comma > arrow) return std::nullopt;
  auto a = term(s.substr(0, comma)), b = term(s.substr(comma + 1, arrow - comma - 1)), o = term(s.substr(arrow + 2));
  if (!a || !b || !o || a->empty() || o->empty()) return std::nullopt;
  torch::jit::Value* va = list->input(0);
  torch::jit::Value* vb = list->input(1);
  // Batched: a = P i c, b = P c j or P j c, out = P i j.
  if (a->size() >= 2 && b->size() >= 2 && o->size() == a->size() && b->size() == a->size()) {
    const std::string p = a->substr(0, a->size() - 2);
    const char i = (*a)[a->size() - 2], c = a->back();
    if (b->substr(0, p.size()) == p && o->substr(0, p.size()) == p && (*o)[o->size() - 2] == i && !has(*o, c)) {
      const char j = o->back();
      const std::string bt = b->substr(p.size());
      if (j != c && j != i && !has(p, j) && !has(p, c) && (bt == std::string{c, j} || bt == std::string{j, c}))
        return EinsumProduct{va, vb, bt == std::string{j, c}, false};
    }
  }
  // Linear: a = P c, w = n c or c n, out = P n (either operand order).
  for (int swap = 0; swap < 2; ++swap) {
    const std::string& x = swap ? *b : *a;
    const std::string& w = swap ? *a : *b;
    if (w.size() != 2 || x.empty() || o->size() != x.size()) continue;
    const char c = x.back(), nn = o->back();
    const std::string p = x.substr(0, x.size() - 1);
    if (o->substr(0, p.size()) != p || has(p, c) || has(p, nn) || c == nn || has(*o, c)) continue;
    if (w == std::string{nn, c} || w == std::string{c, nn})
      return EinsumProduct{swap ? vb : va, swap ? va : vb, w == std::string{nn, c}, true};
  }
  return std::nullopt;
}

}  // namespace xbar
