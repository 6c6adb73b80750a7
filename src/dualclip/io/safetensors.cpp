#include "dualclip/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/io/mapped_file.h"

// The format stores little-endian data, which this reader hands to libtorch unchanged.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian machine");

namespace dualclip::io {

namespace {

// The safetensors reference implementation rejects headers above 100 MB; so do we, before
// allocating anything for a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  const char* name;
  torch::Dtype dtype;
};

constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

std::string supported_dtypes() {
  std::string names;
  for (const auto& entry : kDtypes) names += std::string(names.empty() ? "" : ", ") + entry.name;
  return names;
}

torch::Dtype dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& entry : kDtypes) {
    if (name == entry.name) return entry.dtype;
  }
  throw Error(where + ": unsupported dtype \"" + name + "\" (supported: " + supported_dtypes() + ")");
}

const char* dtype_name(torch::Dtype dtype, const std::string& where) {
  for (const auto& entry : kDtypes) {
    if (dtype == entry.dtype) return entry.name;
  }
  throw Error(where + ": dtype " + std::string(c10::toString(dtype)) + " has no safetensors name");
}

uint64_t read_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// One tensor's entry in the header, checked against itself but not yet against its neighbours.
struct Entry {
  std::string name;
  torch::Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

Entry parse_entry(const std::string& name, const nlohmann::json& info, uint64_t data_size, const std::string& file) {
  std::string where = file + ": tensor \"" + name + "\"";
  if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets")) {
    throw Error(where + ": header entry needs \"dtype\", \"shape\" and \"data_offsets\"");
  }
  const auto& dtype = info["dtype"];
  const auto& shape = info["shape"];
  const auto& offsets = info["data_offsets"];
  if (!dtype.is_string()) throw Error(where + ": \"dtype\" is not a string");
  if (!shape.is_array()) throw Error(where + ": \"shape\" is not a list");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    throw Error(where + ": \"data_offsets\" must be two non-negative integers [begin, end]");
  }

  Entry entry;
  entry.name = name;
  entry.dtype = dtype_from_name(dtype.get<std::string>(), where);

  // The element count, with an overflow guard: a hostile shape must not wrap around.
  uint64_t numel = 1;
  for (const auto& dim : shape) {
    if (!dim.is_number_unsigned()) throw Error(where + ": shape " + shape.dump() + " has a negative or non-integer size");
    uint64_t size = dim.get<uint64_t>();
    if (size != 0 && numel > (uint64_t(1) << 62) / size) throw Error(where + ": shape " + shape.dump() + " is too large");
    numel *= size;
    entry.shape.push_back(static_cast<int64_t>(size));
  }

  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end) {
    throw Error(where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                "] run backwards");
  }
  if (entry.end > data_size) {
    throw Error(where + ": data_offsets end " + std::to_string(entry.end) + " runs past the end of the data (" +
                std::to_string(data_size) + " bytes); the file is truncated or corrupt");
  }
  uint64_t expected = numel * c10::elementSize(entry.dtype);
  if (entry.end - entry.begin != expected) {
    throw Error(where + ": shape " + shape.dump() + " of " + dtype.get<std::string>() + " needs " +
                std::to_string(expected) + " bytes but data_offsets span " + std::to_string(entry.end - entry.begin));
  }
  return entry;
}

// Rejects two tensors whose byte ranges share any byte. Empty tensors occupy no bytes.
void check_no_overlap(std::vector<Entry>& entries, const std::string& file) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Entry* furthest = nullptr;  // the non-empty tensor seen so far that ends last
  for (const Entry& current : entries) {
    if (current.begin == current.end) continue;
    if (furthest && current.begin < furthest->end) {
      throw Error(file + ": tensors \"" + furthest->name + "\" and \"" + current.name + "\" have overlapping data_offsets [" +
                  std::to_string(furthest->begin) + ", " + std::to_string(furthest->end) + "] and [" +
                  std::to_string(current.begin) + ", " + std::to_string(current.end) + "]");
    }
    if (!furthest || current.end > furthest->end) furthest = &current;
  }
}

}  // namespace

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  auto mapping = MappedFile::open(path);

  // Step 1: the 8-byte header length, and the header inside the file.
  if (mapping->size() < 8) {
    throw Error(file + ": truncated safetensors file (" + std::to_string(mapping->size()) +
                " bytes, less than the 8-byte header length)");
  }
  uint64_t header_size = read_le64(mapping->data());
  if (header_size > kMaxHeaderBytes || header_size > mapping->size() - 8) {
    throw Error(file + ": header length " + std::to_string(header_size) + " runs past the end of the file (" +
                std::to_string(mapping->size()) + " bytes); the file is truncated or not safetensors");
  }

  // Step 2: parse the JSON header.
  const char* header_start = reinterpret_cast<const char*>(mapping->data() + 8);
  nlohmann::json header = nlohmann::json::parse(header_start, header_start + header_size, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    throw Error(file + ": the safetensors header is not a JSON object; the file is corrupt or not safetensors");
  }

  // Step 3: validate every entry, then their byte ranges against each other.
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = mapping->size() - data_start;
  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw Error(file + ": \"__metadata__\" is not a JSON object");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) throw Error(file + ": metadata \"" + key + "\" is not a string");
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, info, data_size, file));
  }
  check_no_overlap(entries, file);

  // Step 4: tensors over the mapping (no copy when aligned).
  for (const Entry& entry : entries) {
    result.tensors[entry.name] =
        tensor_from_mapping(mapping, data_start + entry.begin, entry.end - entry.begin, entry.shape, entry.dtype);
  }
  return result;
}

void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();

  // Step 1: contiguous CPU copies, ordered by element size (largest first) then name, so
  // every tensor starts at an offset aligned to its element size.
  std::vector<std::pair<std::string, torch::Tensor>> ordered;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw Error(file + ": tensor \"" + name + "\" is undefined");
    ordered.emplace_back(name, tensor.detach().to(torch::kCPU).contiguous());
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.second.element_size() > b.second.element_size();
  });

  // Step 2: the header, padded with spaces to a multiple of 8 bytes.
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : ordered) {
    uint64_t nbytes = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    header[name] = {{"dtype", dtype_name(tensor.scalar_type(), file + ": tensor \"" + name + "\"")},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  // Step 3: length, header and data, through a temporary file.
  write_atomic(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open " + tmp.string() + " for writing");
    uint8_t length[8];
    uint64_t header_size = header_text.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(header_size >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& [name, tensor] : ordered) {
      out.write(static_cast<const char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.numel() * tensor.element_size()));
    }
    out.close();
    if (!out) throw Error("cannot write " + tmp.string() + " (disk full?)");
  });
}

}  // namespace dualclip::io
