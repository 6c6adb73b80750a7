// Command-line options in the style of Hugging Face's TrainingArguments: `--key value` and
// `--key=value`, boolean flags that also take `true`/`false`, lists (`--images a.jpg b.jpg`),
// and a generated `--help` with one sentence per option. Unknown or malformed arguments raise
// dualclip::Error naming the argument.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dualclip::cli {

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  // A boolean flag, false unless given.
  void add_flag(const std::string& name, const std::string& help);
  // An option with one value; `default_value` empty means "not set".
  void add_option(const std::string& name, const std::string& default_value, const std::string& help,
                  const std::string& metavar = "VALUE");
  // An option taking one or more values, up to the next argument that starts with "--".
  void add_list(const std::string& name, const std::string& help, const std::string& metavar = "VALUE");
  // An option accepted for compatibility and ignored with a one-line note.
  void add_ignored(const std::string& name, bool takes_value, const std::string& why);

  // Parses `args` (without the program and command names). Returns false when --help was
  // given, after printing the help text; throws dualclip::Error on a bad argument.
  bool parse(const std::vector<std::string>& args);

  std::string help() const;

  bool flag(const std::string& name) const;
  // True when the option was given on the command line (not only defaulted).
  bool given(const std::string& name) const;
  // The value, or the default; throws when neither exists.
  std::string get(const std::string& name) const;
  std::optional<std::string> get_optional(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<std::string> get_list(const std::string& name) const;

  // Names of ignored options that were given, with their notes, for the caller to log.
  const std::vector<std::string>& ignored_notes() const { return ignored_notes_; }

 private:
  enum class Kind { Flag, Option, List, Ignored };
  struct Spec {
    Kind kind;
    std::string default_value;
    std::string help;
    std::string metavar;
    bool ignored_takes_value = false;
  };
  const Spec& spec(const std::string& name) const;

  std::string command_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> ignored_notes_;
};

// Parses a boolean written as true/false/1/0/yes/no (any case); throws naming `what`.
bool parse_bool(const std::string& text, const std::string& what);

}  // namespace dualclip::cli
