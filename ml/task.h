// The evaluation tasks: Fashion-MNIST classification and the character language model.
#pragma once
#include "common/enum_names.h"

namespace xbar {

enum class Task { fashion_mnist, text };
template <>
struct EnumNames<Task> {
  static constexpr EnumName<Task> table[] = {{Task::fashion_mnist, "fashion_mnist"}, {Task::text, "text"}};
};

// The `xbar_task` attribute the model zoo stores in saved models (its spelling in existing .pt files).
inline const char* model_task_attribute(Task t) { return t == Task::fashion_mnist ? "fashion-mnist" : "fortunes-char"; }

}  // namespace xbar
