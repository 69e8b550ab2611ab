#include "torch/convert_weight.h"

#include <algorithm>
#include <limits>
#include <set>
#include <vector>

namespace xbar {

using torch::jit::Node;
using torch::jit::Value;

std::optional<std::string> attr_path(Value* v, Value* self) {
  std::vector<std::string> parts;
  while (v->node()->kind() == c10::prim::GetAttr) {
    parts.insert(parts.begin(), v->node()->s(c10::attr::name));
    v = v->node()->input(0);
  }
  if (v != self || parts.empty()) return std::nullopt;
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ".") + p;
  return s;
}

namespace {

std::optional<c10::IValue> attr_value(const torch::jit::Module& m, const std::string& path) {
  torch::jit::Module cur = m;
  size_t a = 0;
  while (true) {
    const size_t b = path.find('.', a);
    const std::string part = path.substr(a, b == std::string::npos ? std::string::npos : b - a);
    if (!cur.hasattr(part)) return std::nullopt;
    const c10::IValue v = cur.attr(part);
    if (b == std::string::npos) return v;
    if (!v.isModule()) return std::nullopt;
    cur = v.toModule();
    a = b + 1;
  }
}

std::optional<at::Tensor> attr_tensor(const torch::jit::Module& m, const std::string& path) {
  auto v = attr_value(m, path);
  return v && v->isTensor() ? std::optional<at::Tensor>(v->toTensor()) : std::nullopt;
}

// Through an Optional's refinement: `if w is not None` yields w on one branch and raises (an
// uninitialized value) on the other; the value is w's.
Value* refined(Value* v) {
  while (true) {
    Node* n = v->node();
    if (n->kind() == c10::prim::unchecked_cast) {
      v = n->input(0);
      continue;
    }
    if (n->kind() != c10::prim::If) return v;
    Value* live = nullptr;
    int n_live = 0;
    for (auto* b : n->blocks()) {
      Value* o = b->outputs().at(v->offset());
      if (o->node()->kind() != c10::prim::Uninitialized) {
        live = o;
        ++n_live;
      }
    }
    if (n_live != 1) return v;
    v = live;
  }
}

std::optional<int64_t> const_int(Value* v) {
  auto iv = torch::jit::toIValue(v);
  if (iv && iv->isInt()) return iv->toInt();
  if (iv && iv->isNone()) return std::nullopt;
  return std::nullopt;
}

bool is_none(Value* v) {
  auto iv = torch::jit::toIValue(v);
  return iv && iv->isNone();
}

const std::set<std::string>& layout_kept() {
  static const std::set<std::string> s = {"aten::contiguous", "aten::to", "aten::detach", "aten::clone",
                                          "aten::type_as", "prim::unchecked_cast"};
  return s;
}
const std::set<std::string>& layout_changed() {
  static const std::set<std::string> s = {"aten::t", "aten::transpose", "aten::permute", "aten::view",
                                          "aten::reshape", "aten::numpy_T"};
  return s;
}
const std::set<std::string>& splits() {
  static const std::set<std::string> s = {"aten::chunk", "aten::split", "aten::split_with_sizes",
                                          "aten::unsafe_chunk", "aten::unsafe_split"};
  return s;
}

}  // namespace

std::string WeightExpr::module() const {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

std::string WeightExpr::layer_name() const {
  const size_t dot = path.rfind('.');
  std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
  std::string name = module();
  const std::string suffix = "_weight";
  if (leaf.size() > suffix.size() && leaf.compare(leaf.size() - suffix.size(), suffix.size(), suffix) == 0) {
    leaf.resize(leaf.size() - suffix.size());
    name += (name.empty() ? "" : ".") + leaf;  // in_proj_weight -> in_proj
  } else if (name.empty()) {
    name = leaf;  // a parameter of the top-level module
  }
  if (!part.empty()) name += "." + part;
  return name;
}

std::optional<WeightExpr> weight_expr(Value* v, Value* self, const torch::jit::Module& m) {
  std::vector<Value*> chain;  // from the parameter outwards, after reversal
  while ((v = refined(v))->node()->kind() != c10::prim::GetAttr) {
    Node* n = v->node();
    const std::string k = n->kind().toQualString();
    if (layout_kept().count(k) || layout_changed().count(k) || k == "aten::slice") {
      chain.push_back(v);
      v = n->input(0);
    } else if (n->kind() == c10::prim::ListUnpack && splits().count(n->input(0)->node()->kind().toQualString())) {
      chain.push_back(v);
      v = n->input(0)->node()->input(0);
    } else {
      return std::nullopt;
    }
  }
  WeightExpr w;
  auto path = attr_path(v, self);
  if (!path) return std::nullopt;
  w.path = *path;
  auto t = attr_tensor(m, w.path);
  if (!t || !t->defined()) return std::nullopt;
  w.dim = t->dim();
  std::reverse(chain.begin(), chain.end());
  // Rows [lo, hi) of the parameter while no layout change intervened; known = false when a
  // selection's bounds are computed at run time (then the part is named by its position).
  const int64_t rows = w.dim > 0 ? t->size(0) : 0;
  int64_t lo = 0, hi = rows;
  bool known = true;
  std::string positional;
  for (Value* c : chain) {
    Node* n = c->node();
    const std::string k = n->kind().toQualString();
    if (layout_kept().count(k)) continue;
    if (layout_changed().count(k)) {
      w.reshaped = true;
      if (k != "aten::t" && k != "aten::transpose") w.transposes_only = false;
      continue;
    }
    if (w.reshaped || w.dim < 1) return std::nullopt;  // a selection after a layout change: not followed
    if (k == "aten::slice") {
      auto dim = const_int(n->input(1)), step = const_int(n->input(4));
      if (!dim || *dim != 0 || !step || *step != 1) return std::nullopt;
      auto s = is_none(n->input(2)) ? std::optional<int64_t>(0) : const_int(n->input(2));
      auto e = is_none(n->input(3)) ? std::optional<int64_t>(std::numeric_limits<int64_t>::max())
                                    : const_int(n->input(3));
      if (!s || !e || !known) {
        known = false;
        positional += "slice";
        continue;
      }
      const int64_t len = hi - lo;
      int64_t a = *s < 0 ? *s + len : *s, b = *e < 0 ? *e + len : std::min(*e, len);
      a = std::clamp<int64_t>(a, 0, len);
      b = std::clamp<int64_t>(b, a, len);
      hi = lo + b;
      lo = lo + a;
      continue;
    }
    // prim::ListUnpack of chunk/split along rows: output `i` of the pieces.
    Node* sp = n->input(0)->node();
    const std::string sk = sp->kind().toQualString();
    const size_t i = c->offset();
    auto dim = const_int(sp->input(2));
    if (!dim || *dim != 0) return std::nullopt;
    const int64_t len = hi - lo;
    int64_t a = -1, b = -1;
    auto arg = torch::jit::toIValue(sp->input(1));
    if (known && arg && (sk == "aten::chunk" || sk == "aten::unsafe_chunk") && arg->isInt()) {
      const int64_t size = (len + arg->toInt() - 1) / arg->toInt();
      a = std::min<int64_t>(int64_t(i) * size, len);
      b = std::min<int64_t>(a + size, len);
    } else if (known && arg && arg->isInt()) {
      a = std::min<int64_t>(int64_t(i) * arg->toInt(), len);
      b = std::min<int64_t>(a + arg->toInt(), len);
    } else if (known && arg && arg->isIntList()) {
      const auto sizes = arg->toIntVector();
      a = 0;
      for (size_t j = 0; j < i && j < sizes.size(); ++j) a += sizes[j];
      b = a + (i < sizes.size() ? sizes[i] : 0);
    }
    if (a < 0) {
      // Sizes computed at run time (F.multi_head_attention_forward's split([E, 2E])).
      known = false;
      positional += (positional.empty() ? "part" : "_") + std::to_string(i) + "of" +
                    std::to_string(n->outputs().size());
      continue;
    }
    hi = lo + b;
    lo = lo + a;
  }
  const bool in_proj = w.path.size() >= 14 && w.path.compare(w.path.size() - 14, 14, "in_proj_weight") == 0;
  if (!known) {
    // Packed q/k/v rows split into (q, kv) by sizes known only when running.
    if (in_proj && positional == "part0of2") w.part = "q";
    else if (in_proj && positional == "part1of2") w.part = "kv";
    else w.part = positional;
  } else if (lo != 0 || hi != rows) {
    const int64_t e = rows / 3;
    if (in_proj && rows % 3 == 0 && e > 0 && lo % e == 0 && hi % e == 0)
      w.part = std::string("qkv").substr(size_t(lo / e), size_t((hi - lo) / e));
    else
      w.part = "rows" + std::to_string(lo) + "_" + std::to_string(hi);
  }
  return w;
}

bool none_attribute(Value* v, Value* self, const torch::jit::Module& m) {
  v = refined(v);
  // An attribute typed None makes its refinement raise: the weight is never initialized.
  if (v->node()->kind() == c10::prim::Uninitialized) return true;
  auto path = attr_path(v, self);
  if (!path) return false;
  auto a = attr_value(m, *path);
  return a && a->isNone();
}

}  // namespace xbar
