#include "dualclip/report/html_report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "dualclip/core/fs.h"

namespace dualclip::report {

namespace {

// Plain CSS inside the page, so the file needs nothing beside its pictures.
constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222; max-width: 1000px;
       margin: 2em auto; padding: 0 1.5em; line-height: 1.5; }
h1 { font-size: 1.7em; border-bottom: 2px solid #ddd; padding-bottom: 0.3em; }
h2 { font-size: 1.3em; margin-top: 2em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #e4e4e4; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.95em; }
td, th { border: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
td.value { font-family: "DejaVu Sans Mono", monospace; text-align: right; }
tr:nth-child(even) { background: #f7f7f7; }
)";

std::string format_number(const nlohmann::json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return value.dump();
  const double number = value.get<double>();
  char text[64];
  if (std::abs(number) >= 1000) std::snprintf(text, sizeof text, "%.1f", number);
  else std::snprintf(text, sizeof text, "%.4g", number);
  return text;
}

void flatten(const nlohmann::json& value, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& rows) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) flatten(child, prefix.empty() ? key : prefix + "." + key, rows);
  } else if (value.is_number()) {
    rows.emplace_back(prefix, format_number(value));
  } else if (value.is_string()) {
    rows.emplace_back(prefix, value.get<std::string>());
  } else {
    rows.emplace_back(prefix, value.dump());
  }
}

void write_table(std::ostringstream& out, const std::vector<std::pair<std::string, std::string>>& rows) {
  out << "<table>\n";
  for (const auto& [key, value] : rows) {
    out << "<tr><th>" << escape_html(key) << "</th><td class=\"value\">" << escape_html(value) << "</td></tr>\n";
  }
  out << "</table>\n";
}

void write_section(std::ostringstream& out, const ReportSection& section) {
  out << "<section>\n<h2>" << escape_html(section.heading) << "</h2>\n";
  for (const std::string& paragraph : section.paragraphs) out << "<p>" << escape_html(paragraph) << "</p>\n";
  if (!section.image.empty()) {
    out << "<figure><img src=\"" << escape_html(section.image) << "\" alt=\""
        << escape_html(section.image_caption.empty() ? section.heading : section.image_caption) << "\">";
    if (!section.image_caption.empty()) out << "<figcaption>" << escape_html(section.image_caption) << "</figcaption>";
    out << "</figure>\n";
  }
  if (!section.table.empty()) write_table(out, section.table);
  out << "</section>\n";
}

}  // namespace

std::string escape_html(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::vector<std::pair<std::string, std::string>> metrics_table(const nlohmann::json& metrics) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (!metrics.is_null()) flatten(metrics, "", rows);
  return rows;
}

void write_report_html(const std::filesystem::path& html, const std::string& title,
                       const std::vector<ReportSection>& sections, const nlohmann::json& metrics) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << escape_html(title)
      << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << escape_html(title) << "</h1>\n";
  for (const ReportSection& section : sections) write_section(out, section);

  if (metrics.is_object() && !metrics.empty()) {
    ReportSection all{"All metrics", {}, "", "", metrics_table(metrics)};
    write_section(out, all);

    // "</" inside a script element would end it early; "<\/" is the same JSON string.
    std::string json = metrics.dump(2);
    for (size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 3)) json.insert(at + 1, "\\");
    out << "<script type=\"application/json\" id=\"metrics\">\n" << json << "\n</script>\n";
  }
  out << "</body>\n</html>\n";
  write_file_atomic(html, out.str());
}

}  // namespace dualclip::report
