// The table of dualclip's commands. Each command lives in cli/cmd_<name>.cpp and is listed in
// commands.cpp with a one-sentence summary for `dualclip --help`.
#pragma once

#include <string>
#include <vector>

namespace dualclip::cli {

struct Command {
  std::string name;
  std::string summary;
  int (*run)(const std::vector<std::string>& args);
};

const std::vector<Command>& commands();

// The runners, one per command.
int run_version(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);
int run_similarity(const std::vector<std::string>& args);
int run_zero_shot(const std::vector<std::string>& args);
int run_retrieval(const std::vector<std::string>& args);
int run_embed(const std::vector<std::string>& args);
int run_plot(const std::vector<std::string>& args);
int run_make_dataset(const std::vector<std::string>& args);
int run_tokenize(const std::vector<std::string>& args);
int run_demo(const std::vector<std::string>& args);
int run_create(const std::vector<std::string>& args);
int run_info(const std::vector<std::string>& args);
int run_preprocess(const std::vector<std::string>& args);

}  // namespace dualclip::cli
