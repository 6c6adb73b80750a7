#include "dualclip/report/axis_ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dualclip::report {

std::vector<double> nice_ticks(double low, double high, int target_count) {
  if (!(high > low)) return {low};

  // Round the raw spacing up to 1, 2 or 5 times a power of ten.
  const double raw = (high - low) / std::max(1, target_count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double spacing = magnitude;
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    spacing = step * magnitude;
    if (spacing >= raw) break;
  }

  std::vector<double> ticks;
  const double first = std::ceil(low / spacing - 1e-9) * spacing;
  for (double value = first; value <= high + spacing * 1e-9; value += spacing) {
    ticks.push_back(std::abs(value) < spacing * 1e-9 ? 0.0 : value);
  }
  return ticks;
}

std::string format_tick(double value, double spacing) {
  // Enough decimals to tell neighbouring ticks apart, none for integers, and thousands
  // written as 10k when the spacing is a multiple of a thousand.
  if (spacing >= 1000 && std::fmod(value, 1000) == 0 && value != 0) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%gk", value / 1000);
    return buffer;
  }
  int decimals = 0;
  if (spacing > 0 && spacing < 1) decimals = static_cast<int>(std::ceil(-std::log10(spacing) - 1e-9));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

}  // namespace dualclip::report
