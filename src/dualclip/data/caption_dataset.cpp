#include "dualclip/data/caption_dataset.h"

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"

namespace dualclip::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json parse_json_file(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error("invalid JSON in " + path.string() + ": " + e.what());
  }
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

fs::path resolve_image_path(const fs::path& list_dir, const std::string& value) {
  fs::path path(value);
  return path.is_absolute() ? path : list_dir / path;
}

// A field of a JSON row as text: strings as they are, numbers written out (an id used as a
// file name), anything else rejected.
std::string json_field(const json& row, const std::string& column, const fs::path& file, size_t row_number) {
  auto it = row.find(column);
  if (it == row.end()) {
    throw Error(file.string() + ": row " + std::to_string(row_number) + " has no column '" + column +
                "'; set --image_column / --caption_column to the names the file uses");
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  throw Error(file.string() + ": row " + std::to_string(row_number) + ", column '" + column +
              "' is not a string");
}

void read_json_rows(const fs::path& file, const ListColumns& columns, CaptionDataset& dataset) {
  std::string text = read_file(file);
  fs::path list_dir = file.parent_path();
  auto add_row = [&](const json& row, size_t row_number) {
    if (!row.is_object()) {
      throw Error(file.string() + ": row " + std::to_string(row_number) + " is not a JSON object");
    }
    std::string image = json_field(row, columns.image_column, file, row_number);
    dataset.examples.push_back({resolve_image_path(list_dir, image), json_field(row, columns.caption_column, file, row_number)});
  };

  // A .json file may hold one array of rows (first non-space character '[').
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    json rows;
    try {
      rows = json::parse(text);
    } catch (const json::exception& e) {
      throw Error("invalid JSON in " + file.string() + ": " + e.what());
    }
    for (size_t i = 0; i < rows.size(); ++i) add_row(rows[i], i + 1);
    return;
  }

  // Otherwise JSON Lines: one object per non-blank line.
  std::istringstream lines(text);
  std::string line;
  size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json row;
    try {
      row = json::parse(line);
    } catch (const json::exception& e) {
      throw Error(file.string() + ": line " + std::to_string(line_number) + " is not valid JSON: " + e.what());
    }
    add_row(row, line_number);
  }
}

void read_delimited_rows(const fs::path& file, char delimiter, const ListColumns& columns, CaptionDataset& dataset) {
  auto records = parse_delimited(read_file(file), delimiter, file.string());
  if (records.empty()) throw Error(file.string() + " is empty; it needs a header row and one row per image");

  // The header names the columns.
  const auto& header = records[0];
  auto find_column = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    std::string names;
    for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
    throw Error(file.string() + " has no column '" + name + "' (columns: " + names +
                "); set --image_column / --caption_column to the names the file uses");
  };
  size_t image_index = find_column(columns.image_column);
  size_t caption_index = find_column(columns.caption_column);

  fs::path list_dir = file.parent_path();
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& record = records[r];
    if (record.size() != header.size()) {
      throw Error(file.string() + ": row " + std::to_string(r) + " has " + std::to_string(record.size()) +
                  " fields but the header has " + std::to_string(header.size()));
    }
    dataset.examples.push_back({resolve_image_path(list_dir, record[image_index]), record[caption_index]});
  }
}

}  // namespace

std::vector<std::vector<std::string>> parse_delimited(const std::string& text, char delimiter,
                                                      const std::string& source) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false;
  bool field_was_quoted = false;

  auto end_record = [&]() {
    record.push_back(field);
    bool blank = record.size() == 1 && record[0].empty() && !field_was_quoted;
    if (!blank) records.push_back(record);
    record.clear();
    field.clear();
    field_was_quoted = false;
  };

  size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // UTF-8 byte order mark
  for (size_t i = start; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        in_quotes = false;
      }
    } else if (c == '"' && field.empty()) {
      in_quotes = true;
      field_was_quoted = true;
    } else if (c == delimiter) {
      record.push_back(field);
      field.clear();
      field_was_quoted = false;
    } else if (c == '\n') {
      end_record();
    } else if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') continue;
      end_record();
    } else {
      field += c;
    }
  }
  if (in_quotes) throw Error(source + ": a quoted field is never closed (a missing '\"')");
  if (!field.empty() || !record.empty() || field_was_quoted) end_record();
  return records;
}

CaptionDataset read_coco_captions(const fs::path& data_dir, const std::string& split) {
  fs::path annotations = data_dir / "annotations" / ("captions_" + split + "2017.json");
  fs::path image_dir = data_dir / (split + "2017");
  if (!fs::exists(annotations)) {
    throw Error("COCO captions not found: " + annotations.string() +
                " does not exist; --data_dir must hold annotations/captions_{train,val}2017.json and the "
                "{train,val}2017/ image folders");
  }
  json root = parse_json_file(annotations);
  if (!root.contains("images") || !root.contains("annotations")) {
    throw Error(annotations.string() + " lacks the 'images' or 'annotations' list of a COCO captions file");
  }

  // Image id -> file name, then one example per caption annotation.
  std::map<int64_t, std::string> file_names;
  for (const auto& image : root["images"]) {
    file_names[image.at("id").get<int64_t>()] = image.at("file_name").get<std::string>();
  }
  CaptionDataset dataset;
  dataset.source = "COCO 2017 " + split + " captions at " + data_dir.string();
  dataset.examples.reserve(root["annotations"].size());
  for (const auto& annotation : root["annotations"]) {
    int64_t image_id = annotation.at("image_id").get<int64_t>();
    auto it = file_names.find(image_id);
    if (it == file_names.end()) {
      throw Error(annotations.string() + ": caption " + annotation.value("id", json()).dump() +
                  " refers to image_id " + std::to_string(image_id) + ", which the 'images' list lacks");
    }
    dataset.examples.push_back({image_dir / it->second, annotation.at("caption").get<std::string>()});
  }
  return dataset;
}

CaptionDataset read_caption_list(const fs::path& list_file, const ListColumns& columns) {
  if (!fs::exists(list_file)) throw Error("caption list not found: " + list_file.string());
  CaptionDataset dataset;
  dataset.source = list_file.string();
  std::string ext = lower_extension(list_file);
  if (ext == ".csv") {
    read_delimited_rows(list_file, ',', columns, dataset);
  } else if (ext == ".tsv") {
    read_delimited_rows(list_file, '\t', columns, dataset);
  } else if (ext == ".jsonl" || ext == ".json") {
    read_json_rows(list_file, columns, dataset);
  } else {
    throw Error("caption list " + list_file.string() + " has extension '" + ext +
                "'; use .csv, .tsv, .jsonl or .json");
  }
  return dataset;
}

void truncate_dataset(CaptionDataset& dataset, int64_t max_samples) {
  if (max_samples >= 0 && static_cast<int64_t>(dataset.examples.size()) > max_samples) {
    dataset.examples.resize(static_cast<size_t>(max_samples));
  }
}

void drop_missing_images(CaptionDataset& dataset, bool strict) {
  // COCO repeats each image for its ~5 captions, so each path is checked once.
  std::map<fs::path, bool> exists;
  std::vector<CaptionExample> kept;
  kept.reserve(dataset.examples.size());
  for (auto& example : dataset.examples) {
    auto it = exists.find(example.image_path);
    if (it == exists.end()) {
      std::error_code ec;
      it = exists.emplace(example.image_path, fs::is_regular_file(example.image_path, ec)).first;
    }
    if (it->second) {
      kept.push_back(std::move(example));
      continue;
    }
    if (strict) {
      throw Error("image not found: " + example.image_path.string() + " (listed in " + dataset.source +
                  "); --strict_data stops at the first missing image, drop it to skip such images");
    }
    ++dataset.missing_images;
    if (dataset.first_missing.size() < 5) dataset.first_missing.push_back(example.image_path);
  }
  dataset.examples = std::move(kept);
}

}  // namespace dualclip::data
