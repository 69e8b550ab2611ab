// Subcommands of the xbar tool. Each takes argv starting at the subcommand name and returns the
// process exit code; errors escape as exceptions and are printed by main as one line.
#pragma once

namespace xbar::cli {

int cmd_mvm(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_tune(int argc, char** argv);
int cmd_merge(int argc, char** argv);
int cmd_rerun(int argc, char** argv);
int cmd_crossbar(int argc, char** argv);
int cmd_device(int argc, char** argv);
int cmd_hardware(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_train_hwa(int argc, char** argv);  // xbar train --hwa

}  // namespace xbar::cli
