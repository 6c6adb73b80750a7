// A self-contained report.html that ties a run's pictures and numbers together: sections of
// text with an optional picture (a relative link, so the PNGs sit beside the HTML file) and
// an optional key/value table.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dualclip::report {

struct ReportSection {
  std::string heading;
  std::vector<std::string> paragraphs;  // plain text, HTML-escaped on output
  std::string image;                    // a path relative to the HTML file; empty: none
  std::string image_caption;
  std::vector<std::pair<std::string, std::string>> table;  // key/value rows; empty: none
};

// Flattens a JSON object into key/value rows: nested objects as "outer.inner", numbers with
// 4 significant digits (one decimal from 1000 up), strings unquoted, arrays as JSON text.
std::vector<std::pair<std::string, std::string>> metrics_table(const nlohmann::json& metrics);

// Writes `html`: the title, the sections in order, and, when `metrics` is a non-empty object,
// a final "All metrics" section with its table and the raw JSON embedded as
// <script type="application/json" id="metrics"> for tools that read the page. Throws
// dualclip::Error when the file cannot be written.
void write_report_html(const std::filesystem::path& html, const std::string& title,
                       const std::vector<ReportSection>& sections, const nlohmann::json& metrics = nlohmann::json::object());

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string escape_html(const std::string& text);

}  // namespace dualclip::report
