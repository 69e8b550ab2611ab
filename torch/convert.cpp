#include "torch/convert.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "torch/convert_einsum.h"
#include "torch/convert_fused.h"
#include "torch/convert_weight.h"
#include "torch/flop_count.h"
#include "torch/graph_nodes.h"

namespace xbar {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

const c10::Symbol kXLinear = c10::Symbol::fromQualString("xbar::linear");
const c10::Symbol kXConv = c10::Symbol::fromQualString("xbar::conv2d");
const c10::Symbol kXConv1d = c10::Symbol::fromQualString("xbar::conv1d");
const c10::Symbol kXMatmul = c10::Symbol::fromQualString("xbar::matmul");
const c10::Symbol kProbe = c10::Symbol::fromQualString("xbar::flops_probe");
const char* kLayerList = "xbar_layer_attributes";

// True when v is (a dropout, mask or copy of) a softmax output, on every path of an if: the
// probabilities of an attention, whose product with V is attn_av.
bool from_softmax(Value* v) {
  static const std::set<std::string> pass = {"aten::dropout", "aten::to", "aten::contiguous", "aten::type_as",
                                             "aten::masked_fill", "aten::view", "aten::reshape"};
  while (pass.count(v->node()->kind().toQualString())) v = v->node()->input(0);
  Node* n = v->node();
  if (n->kind() == c10::prim::If) {
    for (auto* b : n->blocks())
      if (!from_softmax(b->outputs().at(v->offset()))) return false;
    return !n->blocks().empty();
  }
  const std::string k = n->kind().toQualString();
  return k == "aten::softmax" || k == "aten::_softmax";
}

// The module-method frames a node was inlined through, outermost first, each as a key (callee
// function and call site) and the module instance name.
std::vector<std::pair<std::string, std::string>> module_frames(Node* n) {
  std::vector<std::pair<std::string, std::string>> out;
  if (auto cs = n->callstack())
    for (const auto& e : (*cs)->vec())
      // A method called on the module itself ("SELF") is not a submodule frame.
      if (const auto& info = std::get<2>(e); info && info->instance_name() != "SELF") {
        const auto& r = std::get<1>(e);
        out.emplace_back(std::to_string(reinterpret_cast<uintptr_t>(std::get<0>(e))) + ":" +
                             std::to_string(r.start()) + ":" + std::to_string(r.end()),
                         info->instance_name());
      }
  return out;
}

std::string frames_key(const std::vector<std::pair<std::string, std::string>>& f, size_t depth) {
  std::string k;
  for (size_t i = 0; i < depth; ++i) k += f[i].first + "/";
  return k;
}

// Longest common module-path prefix, component-wise ("a.b.c", "a.b.d" -> "a.b").
std::string common_path(const std::string& a, const std::string& b) {
  size_t i = 0, last = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) {
    ++i;
    if (a[i - 1] == '.') last = i - 1;
  }
  if ((i == a.size() || a[i] == '.') && (i == b.size() || b[i] == '.')) return a.substr(0, i);
  return a.substr(0, last);
}

// Full module paths of call frames, learned from weight products whose attribute paths are known:
// the frame that uses a weight directly is the common prefix of the modules owning its weights
// (nn.MultiheadAttention uses its in_proj_weight and out_proj.weight), and each outer frame drops
// one more component. Instance names alone lose containers such as ModuleList ("blocks"), which
// is why the paths come from the weights.
std::map<std::string, std::string> frame_paths(const std::vector<Node*>& nodes, Value* self,
                                               const torch::jit::Module& m) {
  std::map<std::string, std::string> direct;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> frames_of;
  for (Node* n : nodes) {
    const std::string kind = n->kind().toQualString();
    if (kind != "aten::linear" && kind != "aten::conv2d" && kind != "aten::_convolution" && kind != "aten::conv1d")
      continue;
    auto w = weight_expr(n->input(1), self, m);
    if (!w) continue;
    const auto f = module_frames(n);
    if (f.empty()) continue;
    const std::string key = frames_key(f, f.size());
    auto it = direct.find(key);
    if (it == direct.end()) direct.emplace(key, w->module());
    else it->second = common_path(it->second, w->module());
    frames_of.emplace(key, f);
  }
  std::map<std::string, std::string> out = direct;
  for (const auto& [key, path0] : direct) {
    const auto& f = frames_of.at(key);
    std::string path = path0;
    for (size_t d = f.size() - 1; d > 0; --d) {
      path = path.substr(0, path.rfind('.') == std::string::npos ? 0 : path.rfind('.'));
      out.emplace(frames_key(f, d), path);
    }
  }
  return out;
}

std::string module_path(Node* n, const std::map<std::string, std::string>& known) {
  const auto f = module_frames(n);
  if (f.empty()) return "";
  auto it = known.find(frames_key(f, f.size()));
  if (it != known.end()) return it->second;
  std::string s;
  for (const auto& e : f) s += (s.empty() ? "" : ".") + e.second;
  return s;
}

bool is_constant_false(Value* v) {
  auto iv = torch::jit::toIValue(v);
  return iv && iv->isBool() && !iv->toBool();
}

bool is_constant_one(Value* v) {
  auto iv = torch::jit::toIValue(v);
  return iv && ((iv->isInt() && iv->toInt() == 1) || (iv->isDouble() && iv->toDouble() == 1.0));
}

// Where a matrix product's FLOPs are measured: its output, the operand that gives K, the report
// row, whether a weight product.
struct Probe {
  Value* out;
  Value* operand;
  size_t row;
  bool weight;
};

// Runs a copy of the converted module (its layers calibrating, so every policy reads) once on a
// random input with an xbar::flops_probe after every matrix product, and stores each row's FLOPs.
// The probes leave m's graphs afterwards; m's layers are untouched (the copy has its own).
void measure_flops(torch::jit::Module& m, const std::vector<Probe>& probes, const std::vector<int64_t>& shape,
                   ConvertReport& rep) {
  std::vector<Node*> inserted, constants;
  for (const Probe& p : probes) {
    Graph* g = p.out->owningGraph();
    torch::jit::WithInsertPoint guard(p.out->node());
    Value* row = g->insertConstant(int64_t(p.row));
    Value* weight = g->insertConstant(p.weight);
    Node* pn = g->create(kProbe, {p.out, p.operand, row, weight});
    pn->insertAfter(p.out->node());
    pn->output()->setType(p.out->type());
    p.out->replaceAllUsesWith(pn->output());
    pn->replaceInput(0, p.out);
    inserted.push_back(pn);
    constants.push_back(row->node());
    constants.push_back(weight->node());
  }
  std::string failed;
  std::map<int64_t, double> counts;
  try {
    std::stringstream ss;
    m.save(ss);
    torch::jit::Module copy = torch::jit::load(ss);
    for (auto& l : xbar_layers(copy)) l->set_calibrating(true);
    torch::NoGradGuard no_grad;
    flop_count_reset();
    // Its own generator: the caller's global random state stays as it was.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    copy.forward({at::randn(shape, gen)});
    counts = flop_count_take();
  } catch (const c10::Error& e) {
    failed = e.what_without_backtrace();
  } catch (const std::exception& e) {
    failed = e.what();
  }
  for (Node* pn : inserted) {
    pn->output()->replaceAllUsesWith(pn->input(0));
    pn->destroy();
  }
  for (Node* c : constants) c->destroy();
  std::string dims;
  for (int64_t d : shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
  if (!failed.empty()) {
    rep.warnings.push_back("FLOPs not measured: forward on a random input of shape " + dims + " failed: " + failed);
    return;
  }
  rep.example_shape = shape;
  // Only forward runs: products of other methods (decode) stay unmeasured (-1); a forward product
  // that did not run (a branch not taken) did 0 FLOPs.
  for (const Probe& p : probes)
    if (rep.ops[p.row].method == "forward") rep.ops[p.row].flops = counts.count(int64_t(p.row)) ? counts[int64_t(p.row)] : 0.0;
}

std::string percent(double part, double total) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  os << (total > 0 ? 100.0 * part / total : 0.0) << "%";
  return os.str();
}

}  // namespace

std::string ConvertReport::table() const {
  std::ostringstream os;
  size_t n_analog = 0, n_digital = 0, n_left = 0;
  double measured = 0;
  for (const auto& o : ops) measured += std::max(o.flops, 0.0);
  for (const auto& o : ops) {
    const bool analog = o.mode == OpMode::analog;
    os << (o.converted ? (analog ? "analog " : "digital") : "float  ") << "  " << o.method << "  " << o.kind << "  "
       << (o.name.empty() ? "-" : o.name) << "  [" << (o.op_class ? enum_string(*o.op_class) : "-") << "]";
    if (!o.reason.empty()) os << "  (" << o.reason << ")";
    if (!example_shape.empty() && o.flops >= 0) os << "  " << percent(o.flops, measured) << " of FLOPs";
    os << "\n";
    (o.converted ? (analog ? n_analog : n_digital) : n_left)++;
  }
  os << n_analog << " analog, " << n_digital << " digital-emulated, " << n_left << " left in float\n";
  if (!example_shape.empty()) {
    double total = 0, analog = 0, digital = 0, left = 0;
    for (const auto& o : ops) {
      if (o.flops < 0) continue;
      total += o.flops;
      (o.converted ? (o.mode == OpMode::analog ? analog : digital) : left) += o.flops;
    }
    std::string dims;
    for (int64_t d : example_shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    os << "matrix-product FLOPs of one forward on a random " << dims << " input: " << total / 1e6 << " M\n";
    size_t unmeasured = 0;
    for (const auto& o : ops) {
      if (!o.converted && o.flops > 0)
        os << "  float " << percent(o.flops, total) << "  " << o.kind << "  " << (o.name.empty() ? "-" : o.name)
           << "  (" << o.reason << ")\n";
      if (!o.converted && o.flops < 0 && o.method == "forward") {
        os << "  float (FLOPs not measured)  " << o.kind << "  " << (o.name.empty() ? "-" : o.name) << "  (" << o.reason
           << ")\n";
        ++unmeasured;
      }
    }
    os << "digital-emulated: " << percent(digital, total) << ", left in float: " << percent(left, total) << "\n";
    os << "matrix-product FLOPs on arrays: " << percent(analog, total);
    if (unmeasured > 0) os << " of the measured (" << unmeasured << " float operator(s) above not measured)";
    os << "\n";
  }
  for (const auto& w : warnings) os << "warning: " << w << "\n";
  return os.str();
}

ConvertReport convert_module(torch::jit::Module& m, const Policy& policy, const std::vector<int64_t>& example_shape) {
  require_float_model(m, "model");
  ConvertReport rep;
  std::vector<Probe> probes;
  // One layer state per (name, op class, mode, bits, config): phases that resolve alike share it.
  struct State {
    std::string name;
    OpClass op;
    ResolvedOp r;
    std::string attr;
  };
  std::vector<State> states;
  std::set<size_t> used_rules;
  auto state_for = [&](const std::string& name, OpClass op, Phase phase, ResolvedOp& r) -> std::string {
    r = resolve(policy, name, op, phase);
    used_rules.insert(r.rules.begin(), r.rules.end());
    for (const auto& s : states)
      if (s.name == name && s.op == op && s.r.mode == r.mode && s.r.digital_bits == r.digital_bits &&
          same_config(s.r.cfg, r.cfg))
        return s.attr;
    std::string attr = "_xbar_" + (name.empty() ? enum_string(op) : name);
    for (auto& c : attr)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    std::string unique = attr;
    for (int i = 1; m.hasattr(unique); ++i) unique = attr + "_" + std::to_string(i);
    auto obj = c10::make_intrusive<XbarLayer>(name, op, r.mode, r.digital_bits, r.cfg);
    m.register_attribute(unique, c10::getCustomClassType<c10::intrusive_ptr<XbarLayer>>(), c10::IValue(obj));
    states.push_back({name, op, r, unique});
    return unique;
  };

  // Inline every method before rewriting any: a method that calls another then holds its own
  // copy of the callee's operators, converted with its own phase.
  for (const auto& method : m.get_methods()) torch::jit::Inline(*method.graph());
  for (const auto& method : m.get_methods()) {
    const std::string mname = method.name();
    const Phase phase = method_phase(mname);
    std::shared_ptr<Graph> g = method.graph();
    Value* self = g->inputs().at(0);
    std::map<std::string, int> seen;  // activation-product names used in this method
    const auto decomposed = decompose_fused(*g, self);
    const std::vector<Node*> nodes = all_nodes(g->block());
    const auto paths = frame_paths(nodes, self, m);
    for (Node* n : nodes) {
      const std::string kind = n->kind().toQualString();
      ConvertedOp op;
      op.method = mname;
      op.kind = kind;
      ResolvedOp r;
      const bool product = kind == "aten::matmul" || kind == "aten::mm" || kind == "aten::bmm" ||
                           kind == "aten::addmm" || kind == "aten::baddbmm";
      const bool weighted = kind == "aten::linear" || kind == "aten::conv2d" || kind == "aten::_convolution" ||
                            kind == "aten::conv1d";
      auto left_float = [&](OpClass c, const std::string& why) {
        op.op_class = c;
        op.reason = why;
        if (product || weighted)
          probes.push_back({n->output(), n->input(product && (kind == "aten::addmm" || kind == "aten::baddbmm") ? 1
                                                  : product ? 0 : 1),
                            rep.ops.size(), weighted});
        rep.ops.push_back(op);
      };
      // Replaces n's output by `v` (computed before n) and records the conversion; `operand`
      // gives the product's K (the weight, or the left activation factor).
      auto replace = [&](Value* v, Value* operand, bool weight) {
        v->setType(n->output()->type());
        n->output()->replaceAllUsesWith(v);
        n->destroy();
        op.converted = true;
        op.mode = r.mode;
        probes.push_back({v, operand, rep.ops.size(), weight});
        rep.ops.push_back(op);
      };
      auto insert = [&](c10::Symbol k, std::vector<Value*> in) {
        Node* c = g->create(k, in);
        c->insertBefore(n);
        return c->output();
      };
      auto attention_name = [&](OpClass c) {
        auto d = decomposed.find(n);
        const std::string base = d != decomposed.end() ? d->second : module_path(n, paths);
        std::string name = base + (base.empty() ? "" : ".") + (c == OpClass::attn_qk ? "scores" : "context");
        const int k = seen[name]++;
        return k ? name + "_" + std::to_string(k) : name;
      };
      if (kind == "aten::linear" || kind == "aten::conv2d" || kind == "aten::_convolution" || kind == "aten::conv1d") {
        const bool conv = kind != "aten::linear";
        const OpClass cls = conv ? OpClass::conv : OpClass::linear;
        auto w = weight_expr(n->input(1), self, m);
        if (!w) {
          left_float(cls, none_attribute(n->input(1), self, m)
                              ? "branch not taken: the weight attribute is None in this model"
                              : "weight is not a module attribute (or a view or row slice of one)");
          continue;
        }
        op.op_class = cls;
        op.name = w->layer_name();
        if (!conv) {
          const std::string leaf = op.name.substr(op.name.rfind('.') + 1);
          if (leaf == "lm_head" || leaf == "head") op.op_class = OpClass::lm_head;
        }
        if (kind == "aten::_convolution" && !is_constant_false(n->input(6))) {
          left_float(cls, "transposed convolution");
          continue;
        }
        if (conv && n->input(4)->type()->kind() == c10::TypeKind::StringType) {
          left_float(cls, "padding given as a string ('same'/'valid'); give it as numbers to map it");
          continue;
        }
        // Spatial dimensions from the stride list: 1 (conv1d) or 2 (conv2d); conv3d stays float.
        int64_t spatial = kind == "aten::conv1d" ? 1 : 2;
        if (kind == "aten::_convolution") {
          Value* sl = n->input(3);
          auto sv = torch::jit::toIValue(sl);
          spatial = sv && sv->isIntList() ? int64_t(sv->toIntVector().size())
                    : sl->node()->kind() == c10::prim::ListConstruct ? int64_t(sl->node()->inputs().size())
                                                                     : 0;
          if (spatial != 1 && spatial != 2) {
            left_float(cls, "convolution with " + std::to_string(spatial) + " spatial dimensions");
            continue;
          }
        }
        if (conv) {
          auto gv = torch::jit::toIValue(n->input(kind == "aten::_convolution" ? 8 : 6));
          if (!gv || !gv->isInt()) {
            left_float(cls, "groups not a constant");
            continue;
          }
        }
        const std::string attr = state_for(op.name, *op.op_class, phase, r);
        torch::jit::WithInsertPoint guard(n);
        Value* st = g->insertGetAttr(self, attr);
        if (!conv) {
          replace(insert(kXLinear, {n->input(0), n->input(1), n->input(2), st}), n->input(1), true);
        } else {
          const int gi = kind == "aten::_convolution" ? 8 : 6;
          replace(insert(spatial == 1 ? kXConv1d : kXConv, {n->input(0), n->input(1), n->input(2), n->input(3),
                                                             n->input(4), n->input(5), n->input(gi), st}),
                  n->input(1), true);
        }
      } else if (kind == "aten::matmul" || kind == "aten::mm" || kind == "aten::bmm" || kind == "aten::addmm" ||
                 kind == "aten::baddbmm") {
        // addmm/baddbmm: input + a @ b, mapped when beta = alpha = 1 (the bias added digitally).
        const bool adds = kind == "aten::addmm" || kind == "aten::baddbmm";
        Value* a = n->input(adds ? 1 : 0);
        Value* b = n->input(adds ? 2 : 1);
        if (adds && !(is_constant_one(n->input(3)) && is_constant_one(n->input(4)))) {
          left_float(OpClass::linear, "scaled product (beta or alpha != 1)");
          continue;
        }
        auto wa = weight_expr(a, self, m), wb = weight_expr(b, self, m);
        if (wa) {
          left_float(OpClass::linear, "product with a module attribute on the left (W @ x); write it as x @ W.t()");
          continue;
        }
        if (wb) {
          // x @ E with E (in x out) a constant 2-D weight expression: linear(x, E^T).
          if (wb->dim != 2 || (wb->reshaped && !wb->transposes_only)) {
            left_float(OpClass::linear, "product with a reshaped module attribute");
            continue;
          }
          op.op_class = OpClass::linear;
          op.name = wb->layer_name();
          const std::string leaf = op.name.substr(op.name.rfind('.') + 1);
          if (leaf == "lm_head" || leaf == "head") op.op_class = OpClass::lm_head;
          const std::string attr = state_for(op.name, *op.op_class, phase, r);
          torch::jit::WithInsertPoint guard(n);
          Value* st = g->insertGetAttr(self, attr);
          Value* wt = insert(c10::aten::t, {b});
          Value* y = insert(kXLinear, {a, wt, g->insertConstant(c10::IValue()), st});
          if (adds) y = insert(c10::aten::add, {y, n->input(0), g->insertConstant(int64_t(1))});
          replace(y, wt, true);
          continue;
        }
        op.op_class = from_softmax(a) ? OpClass::attn_av : OpClass::attn_qk;
        op.name = attention_name(*op.op_class);
        const std::string attr = state_for(op.name, *op.op_class, phase, r);
        torch::jit::WithInsertPoint guard(n);
        Value* st = g->insertGetAttr(self, attr);
        Value* y = insert(kXMatmul, {a, b, st});
        if (adds) y = insert(c10::aten::add, {y, n->input(0), g->insertConstant(int64_t(1))});
        replace(y, a, false);
      } else if (kind == "aten::einsum") {
        auto e = einsum_product(n);
        if (!e) {
          left_float(OpClass::linear, "einsum that is not a matrix product of two operands");
          continue;
        }
        if (weight_expr(e->a, self, m)) {
          left_float(OpClass::linear, "product with a module attribute on the left (W @ x)");
          continue;
        }
        auto wb = weight_expr(e->b, self, m);
        if (wb && (wb->dim != 2 || (wb->reshaped && !wb->transposes_only))) {
          left_float(OpClass::linear, "product with a reshaped module attribute");
          continue;
        }
        torch::jit::WithInsertPoint guard(n);
        if (wb) {
          op.op_class = OpClass::linear;
          op.name = wb->layer_name();
          const std::string attr = state_for(op.name, *op.op_class, phase, r);
          Value* st = g->insertGetAttr(self, attr);
          // The weight as out x in: b itself when the product is a @ b^T.
          Value* w = e->transpose_b ? e->b : insert(c10::aten::t, {e->b});
          replace(insert(kXLinear, {e->a, w, g->insertConstant(c10::IValue()), st}), w, true);
          continue;
        }
        op.op_class = from_softmax(e->a) ? OpClass::attn_av : OpClass::attn_qk;
        op.name = attention_name(*op.op_class);
        const std::string attr = state_for(op.name, *op.op_class, phase, r);
        Value* st = g->insertGetAttr(self, attr);
        Value* b = e->transpose_b ? insert(c10::aten::transpose, {e->b, g->insertConstant(int64_t(-1)),
                                                                  g->insertConstant(int64_t(-2))})
                                  : e->b;
        replace(insert(kXMatmul, {e->a, b, st}), e->a, false);
      } else if (kind == "aten::conv3d" || kind == "aten::conv_transpose1d" ||
                 kind == "aten::conv_transpose2d" || kind == "aten::conv_transpose3d" || kind == "aten::dot" ||
                 kind == "aten::mv" || kind == "aten::_native_multi_head_attention" ||
                 kind == "aten::_transformer_encoder_layer_fwd" ||
                 kind == "aten::scaled_dot_product_attention") {
        left_float(OpClass::linear, "no crossbar mapping for this operator");
      }
    }
  }
  if (!example_shape.empty()) measure_flops(m, probes, example_shape, rep);
  // The attribute names, listed for Python (scripted modules hide custom-class attributes from dir()).
  // Sorted by name, class, mode and bits (ties in creation order): the list is saved with the model.
  auto sort_key = [](const State& s) {
    return s.name + "|" + enum_string(s.op) + "|" + enum_string(s.r.mode) + "|" + std::to_string(s.r.digital_bits) + "|";
  };
  std::stable_sort(states.begin(), states.end(),
                   [&](const State& a, const State& b) { return sort_key(a) < sort_key(b); });
  c10::List<std::string> names;
  for (const auto& s : states) names.push_back(s.attr);
  if (m.hasattr(kLayerList)) m.setattr(kLayerList, names);
  else m.register_attribute(kLayerList, c10::ListType::ofStrings(), names);
  for (size_t i = 0; i < policy.rules.size(); ++i)
    if (!used_rules.count(i))
      rep.warnings.push_back(policy.source + ": override[" + std::to_string(i) + "] (match \"" + policy.rules[i].match +
                             "\"" + (policy.rules[i].op ? ", op " + enum_string(*policy.rules[i].op) : "") +
                             ") matches no operator");
  // A method that already ran keeps its compiled plan; a save/load round trip gives a module
  // whose methods run the rewritten graphs (LibTorch 1.13 has no public way to drop the plan).
  std::stringstream ss;
  m.save(ss);
  m = torch::jit::load(ss);
  return rep;
}

torch::jit::Module load_torchscript(const std::string& path) {
  try {
    return torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw FileError(path + ": not a loadable TorchScript model (" + e.what_without_backtrace() + ")");
  }
}

void save_torchscript(const torch::jit::Module& m, const std::string& path) {
  // Serialized in memory first: LibTorch's file writer aborts the process when a write fails.
  std::ostringstream ss;
  try {
    m.save(ss);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot serialize the model (" + e.what_without_backtrace() + ")");
  }
  write_file_atomic(path, ss.str());
}

void require_float_model(const torch::jit::Module& m, const std::string& path) {
  const size_t n = xbar_layers(m).size();
  if (n == 0 && !m.hasattr(kLayerList)) return;
  throw InputError(path + ": already converted to xbar operators (" + std::to_string(n) +
                   " layers); give the float model (conversion applies the policy)");
}

std::vector<c10::intrusive_ptr<XbarLayer>> xbar_layers(const torch::jit::Module& m) {
  std::vector<c10::intrusive_ptr<XbarLayer>> out;
  const auto type = c10::getCustomClassType<c10::intrusive_ptr<XbarLayer>>();
  for (const auto& a : m.named_attributes(/*recurse=*/false))
    if (a.value.isCustomClass() && a.value.type() == type) out.push_back(a.value.toCustomClass<XbarLayer>());
  return out;
}

void program_chip(torch::jit::Module& m, int64_t chip) {
  for (auto& l : xbar_layers(m)) {
    l->reset();
    l->set_chip(chip);
  }
}

void drift_model(torch::jit::Module& m, double t_s) {
  for (auto& l : xbar_layers(m)) l->drift_to(t_s);
}

void reset_model(torch::jit::Module& m) {
  for (auto& l : xbar_layers(m)) l->reset();
}

}  // namespace xbar
