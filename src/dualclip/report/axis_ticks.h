// Tick positions and labels for plot axes.
#pragma once

#include <string>
#include <vector>

namespace dualclip::report {

// Chooses tick values for an axis from `low` to `high`: about `target_count` round numbers
// (1, 2 or 5 times a power of ten apart) that lie inside the range.
std::vector<double> nice_ticks(double low, double high, int target_count);

// Formats a tick value with as many decimals as the tick spacing needs.
std::string format_tick(double value, double spacing);

}  // namespace dualclip::report
