// The labelled image sets zero-shot classification reads, and its per-image predictions file.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/eval/zero_shot.h"

namespace dualclip::eval {

namespace fs = std::filesystem;

namespace {

// Splits one CSV record (RFC 4180 quoting: "a, b" and "" for a quote inside quotes).
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::string quote_csv(const std::string& field) {
  if (field.find_first_of(",\"\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

bool is_header(const std::vector<std::string>& fields) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  return fields.size() == 2 &&
         (lower(fields[0]) == "path" || lower(fields[0]) == "image_path" || lower(fields[0]) == "filepath") &&
         (lower(fields[1]) == "label" || lower(fields[1]) == "class");
}

std::vector<LabelledImage> read_class_folders(const fs::path& root, const std::map<std::string, int64_t>& class_index) {
  std::vector<LabelledImage> images;
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) folders.push_back(entry.path());
  }
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) throw Error("image folder " + root.string() + " has no class subfolders (expected one folder per class)");

  for (const fs::path& folder : folders) {
    const std::string name = folder.filename().string();
    auto it = class_index.find(name);
    if (it == class_index.end()) {
      throw Error("subfolder " + folder.string() + " is not one of the classes; name each subfolder exactly as its class or drop it");
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
      if (entry.is_regular_file() && has_image_extension(entry.path())) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) images.push_back({file, it->second});
  }
  return images;
}

std::vector<LabelledImage> read_csv(const fs::path& csv, const std::map<std::string, int64_t>& class_index) {
  std::ifstream in(csv);
  if (!in) throw Error("cannot read " + csv.string());
  std::vector<LabelledImage> images;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> fields = split_csv_line(line);
    if (line_number == 1 && is_header(fields)) continue;

    const std::string where = csv.string() + ":" + std::to_string(line_number);
    if (fields.size() != 2) throw Error(where + ": expected two fields, path,label; got '" + line + "'");
    auto it = class_index.find(fields[1]);
    if (it == class_index.end()) throw Error(where + ": label '" + fields[1] + "' is not one of the classes");
    fs::path path = fields[0];
    if (path.is_relative()) path = csv.parent_path() / path;
    if (!fs::exists(path)) throw Error(where + ": image file not found: " + path.string());
    images.push_back({path, it->second});
  }
  return images;
}

}  // namespace

std::vector<LabelledImage> read_labelled_images(const fs::path& source, const std::vector<std::string>& class_names) {
  std::map<std::string, int64_t> class_index;
  for (size_t i = 0; i < class_names.size(); ++i) {
    if (!class_index.emplace(class_names[i], static_cast<int64_t>(i)).second) {
      throw Error("class '" + class_names[i] + "' is listed twice; class names must be unique");
    }
  }

  std::vector<LabelledImage> images;
  if (fs::is_directory(source)) {
    images = read_class_folders(source, class_index);
  } else if (fs::exists(source)) {
    images = read_csv(source, class_index);
  } else {
    throw Error("--images " + source.string() + " not found: pass a folder of class subfolders or a CSV of path,label");
  }
  if (images.empty()) throw Error("--images " + source.string() + " contains no labelled images");
  return images;
}

void write_zero_shot_predictions(const fs::path& path, const std::vector<LabelledImage>& images,
                                 const ZeroShotResult& result, const std::vector<std::string>& class_names) {
  std::ostringstream out;
  out << "path,label,prediction,correct,top_classes,top_probs\n";
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& top = result.top_classes[i];
    std::string top_names, top_probs;
    for (size_t r = 0; r < top.size(); ++r) {
      top_names += (r ? ";" : "") + class_names[top[r]];
      char prob[32];
      std::snprintf(prob, sizeof prob, "%s%.4f", r ? ";" : "", result.top_probs[i][r]);
      top_probs += prob;
    }
    out << quote_csv(images[i].path.string()) << "," << quote_csv(class_names[images[i].label]) << ","
        << quote_csv(class_names[top[0]]) << "," << (top[0] == images[i].label ? "true" : "false") << ","
        << quote_csv(top_names) << "," << top_probs << "\n";
  }
  write_file_atomic(path, out.str());
}

}  // namespace dualclip::eval
