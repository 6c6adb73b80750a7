#include "dualclip/cli/args.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <sstream>

#include "dualclip/core/error.h"

namespace dualclip::cli {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool is_bool_word(const std::string& text) {
  const std::string word = lower(text);
  return word == "true" || word == "false" || word == "1" || word == "0" || word == "yes" || word == "no";
}

// Wraps `text` to `width` columns, indenting continuation lines by `indent` spaces.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::istringstream words(text);
  std::string word, out, line;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width - indent) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

}  // namespace

bool parse_bool(const std::string& text, const std::string& what) {
  const std::string word = lower(text);
  if (word == "true" || word == "1" || word == "yes") return true;
  if (word == "false" || word == "0" || word == "no") return false;
  throw Error("invalid value '" + text + "' for " + what + ": expected true or false");
}

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::add_flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = Spec{Kind::Flag, "", help, ""};
}

void ArgParser::add_option(const std::string& name, const std::string& default_value,
                           const std::string& help, const std::string& metavar) {
  order_.push_back(name);
  specs_[name] = Spec{Kind::Option, default_value, help, metavar};
}

void ArgParser::add_list(const std::string& name, const std::string& help, const std::string& metavar) {
  order_.push_back(name);
  specs_[name] = Spec{Kind::List, "", help, metavar};
}

void ArgParser::add_ignored(const std::string& name, bool takes_value, const std::string& why) {
  order_.push_back(name);
  Spec spec{Kind::Ignored, "", why, "VALUE"};
  spec.ignored_takes_value = takes_value;
  specs_[name] = spec;
}

const ArgParser::Spec& ArgParser::spec(const std::string& name) const {
  auto it = specs_.find(name);
  if (it == specs_.end()) throw std::logic_error("option --" + name + " was not declared for " + command_);
  return it->second;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << help();
      return false;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw Error("unexpected argument '" + arg + "' for '" + command_ +
                  "': options start with --; see 'dualclip " + command_ + " --help'");
    }

    // Split --key=value.
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      throw Error("unknown option --" + name + " for '" + command_ + "'; see 'dualclip " + command_ + " --help'");
    }
    const Spec& spec = it->second;
    auto next_is_value = [&] { return i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0; };

    switch (spec.kind) {
      case Kind::Flag: {
        bool value = true;
        if (inline_value) {
          value = parse_bool(*inline_value, "--" + name);
        } else if (i + 1 < args.size() && is_bool_word(args[i + 1])) {
          value = parse_bool(args[++i], "--" + name);
        }
        values_[name] = {value ? "true" : "false"};
        break;
      }
      case Kind::Option: {
        if (inline_value) {
          values_[name] = {*inline_value};
        } else if (i + 1 < args.size()) {
          // A value may start with "-" (a negative number) but not with "--".
          if (!next_is_value()) throw Error("option --" + name + " needs a value (" + spec.metavar + ")");
          values_[name] = {args[++i]};
        } else {
          throw Error("option --" + name + " needs a value (" + spec.metavar + ")");
        }
        break;
      }
      case Kind::List: {
        std::vector<std::string>& list = values_[name];
        if (inline_value) list.push_back(*inline_value);
        while (next_is_value()) list.push_back(args[++i]);
        if (list.empty()) throw Error("option --" + name + " needs at least one value (" + spec.metavar + ")");
        break;
      }
      case Kind::Ignored: {
        if (spec.ignored_takes_value && !inline_value && next_is_value()) ++i;
        ignored_notes_.push_back("--" + name + " is ignored: " + spec.help);
        break;
      }
    }
  }
  return true;
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "usage: dualclip " << command_ << " [options]\n\n" << wrap(summary_, 0, 100) << "\n\noptions:\n";
  for (const std::string& name : order_) {
    const Spec& spec = specs_.at(name);
    std::string left = "  --" + name;
    if (spec.kind == Kind::Option) left += " " + spec.metavar;
    if (spec.kind == Kind::List) left += " " + spec.metavar + " [" + spec.metavar + " ...]";
    std::string text = spec.help;
    if (spec.kind == Kind::Option && !spec.default_value.empty()) text += " (default: " + spec.default_value + ")";
    if (spec.kind == Kind::Ignored) text = "Accepted for compatibility and ignored: " + spec.help;
    const size_t column = 34;
    if (left.size() + 2 > column) {
      out << left << "\n" << std::string(column, ' ');
    } else {
      out << left << std::string(column - left.size(), ' ');
    }
    out << wrap(text, column, 100) << "\n";
  }
  out << "  --help" << std::string(34 - 8, ' ') << "Show this help and exit.\n";
  return out.str();
}

bool ArgParser::flag(const std::string& name) const {
  if (spec(name).kind != Kind::Flag) throw std::logic_error("--" + name + " is not a flag");
  auto it = values_.find(name);
  return it != values_.end() && it->second.front() == "true";
}

bool ArgParser::given(const std::string& name) const {
  spec(name);
  return values_.count(name) > 0;
}

std::optional<std::string> ArgParser::get_optional(const std::string& name) const {
  const Spec& s = spec(name);
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.front();
  if (!s.default_value.empty()) return s.default_value;
  return std::nullopt;
}

std::string ArgParser::get(const std::string& name) const {
  auto value = get_optional(name);
  if (!value) throw Error("missing required option --" + name + "; see 'dualclip " + command_ + " --help'");
  return *value;
}

int64_t ArgParser::get_int(const std::string& name) const {
  const std::string text = get(name);
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) throw Error("invalid value '" + text + "' for --" + name + ": expected an integer");
  return value;
}

double ArgParser::get_double(const std::string& name) const {
  const std::string text = get(name);
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) throw Error("invalid value '" + text + "' for --" + name + ": expected a number");
  return value;
}

std::vector<std::string> ArgParser::get_list(const std::string& name) const {
  spec(name);
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace dualclip::cli
