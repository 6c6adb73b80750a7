// dualclip: build, train and evaluate CLIP-like vision-text dual encoders.
// This file only dispatches to the command table in dualclip/cli.

#include <iostream>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"

namespace {

void print_usage() {
  std::cout << "usage: dualclip COMMAND [options]\n\n"
               "Build, train and evaluate CLIP-like vision-text dual encoders stored as Hugging Face model "
               "directories.\n\ncommands:\n";
  for (const auto& command : dualclip::cli::commands()) {
    std::string name = "  " + command.name;
    std::cout << name << std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') << command.summary << "\n";
  }
  std::cout << "\nRun 'dualclip COMMAND --help' for the options of a command; 'dualclip --version' for the build.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") args[0] = "version";

  for (const auto& command : dualclip::cli::commands()) {
    if (command.name != args[0]) continue;
    try {
      return command.run(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const dualclip::Error& e) {
      std::cerr << "error: " << e.what() << std::endl;
      return 2;
    } catch (const c10::Error& e) {
      std::cerr << "error: " << e.what_without_backtrace() << std::endl;
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << std::endl;
      return 1;
    }
  }
  std::cerr << "error: unknown command '" << args[0] << "'; run 'dualclip --help' for the list" << std::endl;
  return 2;
}
