// xbar hardware: the hardware description files of the cost model (engine/hardware.h).
#include <iostream>
#include <string>

#include "engine/hardware.h"
#include "commands.h"

namespace xbar::cli {

int cmd_hardware(int argc, char** argv) {
  const std::string usage =
      "usage: xbar hardware schema        every key of a hardware file with unit, default and range\n"
      "       xbar hardware show FILE     the values of FILE (defaults filled in), after validation\n";
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "schema") {
    std::cout << hardware_help();
    return 0;
  }
  if (what == "show" && argc == 3) {
    const Hardware h = load_hardware(argv[2]);
    std::cout << "[hardware]\n";
    for (const auto& f : Hardware::fields()) {
      const std::string v = field_string(h, f);
      const bool text = std::holds_alternative<std::string Hardware::*>(f.member);
      std::cout << f.key << " = " << (text ? "\"" + v + "\"" : v) << (f.unit.empty() ? "" : "  # " + f.unit) << "\n";
    }
    return 0;
  }
  std::cout << usage;
  return what == "-h" || what == "--help" ? 0 : 2;
}

}  // namespace xbar::cli
