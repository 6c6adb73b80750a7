// A minimal PNG writer for tests and benchmarks: 8-bit RGB, zlib stream of stored
// (uncompressed) deflate blocks, so no compression library is needed to make test images.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace dualclip::testing {

namespace png_detail {

inline uint32_t crc32_of(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline void append_u32_be(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xFF);
}

inline void append_chunk(std::string& png, const std::string& type, const std::string& data) {
  append_u32_be(png, static_cast<uint32_t>(data.size()));
  png += type + data;
  append_u32_be(png, crc32_of(type + data));
}

}  // namespace png_detail

// Writes an 8-bit RGB PNG of `width` x `height` from row-major RGB bytes.
inline void write_png(const std::filesystem::path& path, int width, int height, const std::vector<uint8_t>& rgb) {
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw += '\0';  // filter type None
    raw.append(reinterpret_cast<const char*>(rgb.data()) + static_cast<size_t>(y) * width * 3,
               static_cast<size_t>(width) * 3);
  }

  // zlib stream of stored blocks, then the Adler-32 of the raw bytes.
  std::string zlib = "\x78\x01";
  for (size_t pos = 0; pos < raw.size(); pos += 65535) {
    size_t len = std::min<size_t>(65535, raw.size() - pos);
    zlib += static_cast<char>(pos + len == raw.size() ? 1 : 0);
    zlib += static_cast<char>(len & 0xFF);
    zlib += static_cast<char>(len >> 8);
    zlib += static_cast<char>(~len & 0xFF);
    zlib += static_cast<char>((~len >> 8) & 0xFF);
    zlib += raw.substr(pos, len);
  }
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  png_detail::append_u32_be(zlib, (b << 16) | a);

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  png_detail::append_u32_be(header, static_cast<uint32_t>(width));
  png_detail::append_u32_be(header, static_cast<uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);
  png_detail::append_chunk(png, "IHDR", header);
  png_detail::append_chunk(png, "IDAT", zlib);
  png_detail::append_chunk(png, "IEND", "");
  std::ofstream(path, std::ios::binary) << png;
}

}  // namespace dualclip::testing
