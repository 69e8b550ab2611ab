#include "torch/convert.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace xbar {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

const c10::Symbol kXLinear = c10::Symbol::fromQualString("xbar::linear");
const c10::Symbol kXConv = c10::Symbol::fromQualString("xbar::conv2d");
const c10::Symbol kXMatmul = c10::Symbol::fromQualString("xbar::matmul");
const char* kLayerList = "xbar_layer_attributes";

// Module path of a value reached from `self` through prim::GetAttr ("blocks.0.fc.weight").
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

// True when a value is (a view of) a module attribute: then a matmul with it is a weight product.
bool is_parameter(Value* v, Value* self) {
  static const std::set<std::string> views = {"aten::t", "aten::transpose", "aten::permute", "aten::contiguous",
                                              "aten::to", "aten::view", "aten::reshape"};
  while (views.count(v->node()->kind().toQualString())) v = v->node()->input(0);
  return attr_path(v, self).has_value();
}

bool from_softmax(Value* v) {
  static const std::set<std::string> pass = {"aten::dropout", "aten::to", "aten::contiguous", "aten::type_as",
                                             "aten::masked_fill"};
  while (pass.count(v->node()->kind().toQualString())) v = v->node()->input(0);
  const std::string k = v->node()->kind().toQualString();
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

// Full module paths of call frames, learned from weight products whose attribute paths are known:
// the frame that owns a weight is the module path of the weight minus its attribute name, and
// each outer frame drops one more component. Instance names alone lose containers such as
// ModuleList ("blocks"), which is why the paths come from the weights.
std::map<std::string, std::string> frame_paths(const std::vector<Node*>& nodes, Value* self) {
  std::map<std::string, std::string> out;
  for (Node* n : nodes) {
    const std::string kind = n->kind().toQualString();
    if (kind != "aten::linear" && kind != "aten::conv2d" && kind != "aten::_convolution") continue;
    auto wp = attr_path(n->input(1), self);
    if (!wp) continue;
    const auto f = module_frames(n);
    std::string path = wp->substr(0, wp->rfind('.') == std::string::npos ? 0 : wp->rfind('.'));
    for (size_t d = f.size(); d > 0; --d) {
      out.emplace(frames_key(f, d), path);
      path = path.substr(0, path.rfind('.') == std::string::npos ? 0 : path.rfind('.'));
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

void collect(torch::jit::Block* b, std::vector<Node*>& out) {
  for (Node* n : b->nodes()) {
    out.push_back(n);
    for (auto* sub : n->blocks()) collect(sub, out);
  }
}

bool is_constant_false(Value* v) {
  auto iv = torch::jit::toIValue(v);
  return iv && iv->isBool() && !iv->toBool();
}

}  // namespace

std::string ConvertReport::table() const {
  std::ostringstream os;
  size_t n_analog = 0, n_digital = 0, n_left = 0;
  for (const auto& o : ops) {
    const bool analog = o.mode == OpMode::analog;
    os << (o.converted ? (analog ? "analog " : "digital") : "float  ") << "  " << o.method << "  " << o.kind << "  "
       << (o.name.empty() ? "-" : o.name) << "  [" << (o.op_class ? enum_string(*o.op_class) : "-") << "]";
    if (!o.reason.empty()) os << "  (" << o.reason << ")";
    os << "\n";
    (o.converted ? (analog ? n_analog : n_digital) : n_left)++;
  }
  os << n_analog << " analog, " << n_digital << " digital-emulated, " << n_left << " left in float\n";
  for (const auto& w : warnings) os << "warning: " << w << "\n";
  return os.str();
}

ConvertReport convert_module(torch::jit::Module& m, const Policy& policy) {
  ConvertReport rep;
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
    const Phase phase = mname.find("decode") != std::string::npos ? Phase::decode : Phase::prefill;
    std::shared_ptr<Graph> g = method.graph();
    Value* self = g->inputs().at(0);
    std::vector<Node*> nodes;
    collect(g->block(), nodes);
    std::map<std::string, int> seen;  // activation-product names used in this method
    const auto paths = frame_paths(nodes, self);
    for (Node* n : nodes) {
      const std::string kind = n->kind().toQualString();
      ConvertedOp op;
      op.method = mname;
      op.kind = kind;
      Node* call = nullptr;
      ResolvedOp r;
      if (kind == "aten::linear" || kind == "aten::conv2d" || kind == "aten::_convolution") {
        const bool conv = kind != "aten::linear";
        op.op_class = conv ? OpClass::conv : OpClass::linear;
        auto wp = attr_path(n->input(1), self);
        if (!wp) {
          op.reason = "weight is not a module attribute";
          rep.ops.push_back(op);
          continue;
        }
        op.name = wp->substr(0, wp->rfind('.') == std::string::npos ? wp->size() : wp->rfind('.'));
        if (!conv) {
          const std::string leaf = op.name.substr(op.name.rfind('.') + 1);
          if (leaf == "lm_head" || leaf == "head") op.op_class = OpClass::lm_head;
        }
        if (kind == "aten::_convolution" && !is_constant_false(n->input(6))) {
          op.reason = "transposed convolution";
          rep.ops.push_back(op);
          continue;
        }
        if (conv && n->input(4)->type()->kind() == c10::TypeKind::StringType) {
          op.reason = "padding given as a string ('same'/'valid'); give it as numbers to map it";
          rep.ops.push_back(op);
          continue;
        }
        const int groups_input = kind == "aten::_convolution" ? 8 : 6;
        if (conv) {
          auto gv = torch::jit::toIValue(n->input(groups_input));
          if (!gv || gv->toInt() != 1) {
            op.reason = "grouped convolution (groups != 1)";
            rep.ops.push_back(op);
            continue;
          }
        }
        const std::string attr = state_for(op.name, *op.op_class, phase, r);
        torch::jit::WithInsertPoint guard(n);
        Value* st = g->insertGetAttr(self, attr);
        if (!conv) {
          call = g->create(kXLinear, {n->input(0), n->input(1), n->input(2), st});
        } else if (kind == "aten::conv2d") {
          call = g->create(kXConv, {n->input(0), n->input(1), n->input(2), n->input(3), n->input(4), n->input(5),
                                    n->input(6), st});
        } else {
          call = g->create(kXConv, {n->input(0), n->input(1), n->input(2), n->input(3), n->input(4), n->input(5),
                                    n->input(8), st});
        }
      } else if (kind == "aten::matmul" || kind == "aten::bmm") {
        if (is_parameter(n->input(0), self) || is_parameter(n->input(1), self)) {
          op.op_class = OpClass::linear;
          op.reason = "product with a module attribute; write it as torch.nn.functional.linear to map it";
          rep.ops.push_back(op);
          continue;
        }
        op.op_class = from_softmax(n->input(0)) ? OpClass::attn_av : OpClass::attn_qk;
        const std::string base = module_path(n, paths);
        std::string name = base + (base.empty() ? "" : ".") + (op.op_class == OpClass::attn_qk ? "scores" : "context");
        const int k = seen[name]++;
        op.name = k ? name + "_" + std::to_string(k) : name;
        const std::string attr = state_for(op.name, *op.op_class, phase, r);
        torch::jit::WithInsertPoint guard(n);
        Value* st = g->insertGetAttr(self, attr);
        call = g->create(kXMatmul, {n->input(0), n->input(1), st});
      } else if (kind == "aten::mm" || kind == "aten::addmm" || kind == "aten::einsum" ||
                 kind == "aten::_native_multi_head_attention" || kind == "aten::conv1d" || kind == "aten::conv3d" ||
                 kind == "aten::conv_transpose2d") {
        op.reason = "no crossbar mapping for this operator";
        rep.ops.push_back(op);
        continue;
      } else {
        continue;
      }
      call->insertBefore(n);
      call->output()->setType(n->output()->type());
      n->output()->replaceAllUsesWith(call->output());
      n->destroy();
      op.converted = true;
      op.mode = r.mode;
      rep.ops.push_back(op);
    }
  }
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
