// A seeded random source whose output is the same on every platform and standard library:
// std::mt19937_64's sequence is fixed by the C++ standard, while std::uniform_*_distribution
// and std::normal_distribution are not, so the distributions here are written out by hand.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace dualclip::data {

// Mixes a seed with stream ids into a new seed (SplitMix64's finaliser), so that every image
// of a dataset can draw from its own generator and be made in any order or thread.
inline uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0) {
  uint64_t z = seed;
  for (uint64_t part : {a, b}) {
    z += 0x9e3779b97f4a7c15ULL + part;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
  }
  return z;
}

class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1), from the top 53 bits of one draw.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  // Uniform integer in [0, n), without modulo bias: draws below 2^64 mod n are redrawn.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint64_t x = engine_();
      if (x >= threshold) return x % n;
    }
  }
  int below(int n) { return static_cast<int>(below(static_cast<uint64_t>(n))); }

  bool chance(double probability) { return uniform() < probability; }

  // Standard normal by the Box-Muller transform (one value per call; the pair's second is
  // dropped). NOTE: std::log and std::cos may round differently in another libm, so normal
  // draws are bit-identical only with the same C library.
  double normal() {
    const double u1 = 1.0 - uniform();  // in (0, 1], so the log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(static_cast<uint64_t>(items.size()))];
  }

  // Fisher-Yates shuffle.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(static_cast<uint64_t>(i))]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace dualclip::data
