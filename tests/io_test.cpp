// Safetensors, torch.save zip checkpoints and model folders, on files the tests write.
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/io/torch_bin.h"
#include "expect_error.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using dualclip::Error;
using dualclip::testing::TempDir;
using dualclip::testing::error_of;
using namespace dualclip::io;

// A safetensors file from a hand-written header and `data_bytes` zero bytes of data.
void write_raw_safetensors(const fs::path& path, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
  bytes += header;
  bytes.append(data_bytes, '\0');
  dualclip::write_file_atomic(path, bytes);
}

TEST(Safetensors, RoundTripKeepsEveryDtype) {
  TempDir dir;
  TensorMap tensors = {
      {"f32", torch::randn({3, 4})},
      {"f64", torch::randn({2}, torch::kFloat64)},
      {"bf16", torch::randn({5}).to(torch::kBFloat16)},
      {"f16", torch::randn({2, 2}).to(torch::kFloat16)},
      {"i64", torch::arange(7)},
      {"i32", torch::arange(3, torch::kInt32)},
      {"u8", torch::arange(9, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(2.5f)},
      {"empty", torch::zeros({0, 3})},
      {"strided", torch::randn({4, 3}).t()},
  };
  write_safetensors(dir.path() / "t.safetensors", tensors, {{"format", "pt"}});

  SafetensorsFile loaded = read_safetensors(dir.path() / "t.safetensors");
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  EXPECT_EQ(loaded.metadata.at("format"), "pt");
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor& got = loaded.tensors.at(name);
    EXPECT_EQ(got.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), tensor.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, tensor)) << name;
  }
}

TEST(Safetensors, HeaderIsPaddedToEightBytes) {
  TempDir dir;
  write_safetensors(dir.path() / "t.safetensors", {{"a", torch::ones({3})}});
  std::string bytes = dualclip::read_file(dir.path() / "t.safetensors");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + length + 12);
}

TEST(Safetensors, TruncatedFileIsRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  write_safetensors(path, {{"weight", torch::ones({16})}});
  std::string bytes = dualclip::read_file(path);
  dualclip::write_file_atomic(path, bytes.substr(0, bytes.size() - 10));

  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("weight"), std::string::npos) << message;

  dualclip::write_file_atomic(path, bytes.substr(0, 5));
  message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(Safetensors, HeaderLengthPastFileIsRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(0xff);
  bytes[1] = static_cast<char>(0xff);
  bytes += "{}";
  dualclip::write_file_atomic(path, bytes);
  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("header length 65535"), std::string::npos) << message;
}

TEST(Safetensors, OffsetsPastDataAreRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  write_raw_safetensors(path, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("\"w\""), std::string::npos) << message;
  EXPECT_NE(message.find("runs past the end"), std::string::npos) << message;
}

TEST(Safetensors, OverlappingOffsetsAreRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  write_raw_safetensors(path,
                        R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                        16);
  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("overlapping"), std::string::npos) << message;
}

TEST(Safetensors, SizeDisagreeingWithShapeIsRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  write_raw_safetensors(path, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16);
  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("needs 12 bytes"), std::string::npos) << message;
}

TEST(Safetensors, UnknownDtypeIsRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  write_raw_safetensors(path, R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 8);
  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("F8_E4M3"), std::string::npos) << message;
}

TEST(Safetensors, HeaderThatIsNotJsonIsRejected) {
  TempDir dir;
  fs::path path = dir.path() / "t.safetensors";
  write_raw_safetensors(path, "{not json", 0);
  std::string message = error_of([&] { read_safetensors(path); });
  EXPECT_NE(message.find("not a JSON object"), std::string::npos) << message;
}

TEST(ModelDir, ReadJsonNamesInvalidFile) {
  TempDir dir;
  dualclip::write_file_atomic(dir.path() / "config.json", "{\"a\": ");
  std::string message = error_of([&] { read_json(dir.path() / "config.json"); });
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
}

TEST(ModelDir, HubIdResolvesInFakeCache) {
  TempDir dir;
  fs::path repo = dir.path() / "hub" / "models--someorg--tiny-model";
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / "abc123");
  fs::create_directories(repo / "snapshots" / "old456");
  dualclip::write_file_atomic(repo / "refs" / "main", "abc123\n");

  setenv("HF_HUB_CACHE", (dir.path() / "hub").c_str(), 1);
  EXPECT_EQ(resolve_model_dir("someorg/tiny-model"), repo / "snapshots" / "abc123");

  std::string message = error_of([&] { resolve_model_dir("someorg/other-model"); });
  EXPECT_NE(message.find("models--someorg--other-model"), std::string::npos) << message;
  unsetenv("HF_HUB_CACHE");

  setenv("HF_HOME", dir.path().c_str(), 1);
  EXPECT_EQ(resolve_model_dir("someorg/tiny-model"), repo / "snapshots" / "abc123");
  unsetenv("HF_HOME");
}

TEST(ModelDir, ShardedIndexMissingTensorIsRejected) {
  TempDir dir;
  write_safetensors(dir.path() / "model-00001-of-00001.safetensors", {{"a", torch::ones({2})}});
  write_json(dir.path() / "model.safetensors.index.json",
             {{"metadata", {{"total_size", 8}}},
              {"weight_map", {{"a", "model-00001-of-00001.safetensors"}, {"b", "model-00001-of-00001.safetensors"}}}});
  std::string message = error_of([&] { load_weights(dir.path()); });
  EXPECT_NE(message.find("\"b\""), std::string::npos) << message;
}

TEST(ModelDir, MissingWeightsAreReported) {
  TempDir dir;
  std::string message = error_of([&] { load_weights(dir.path()); });
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
}

TEST(TorchBin, GoldenBinMatchesSafetensorsTwin) {
  DUALCLIP_REQUIRE_GOLDEN();
  fs::path golden = dualclip::testing::golden_dir() / "pretrained";
  TensorMap from_bin = load_weights(golden / "roberta-tiny-bin");
  TensorMap from_safetensors = load_weights(golden / "roberta-tiny");

  // The .bin adds the two tied lm_head.decoder names; every other tensor must be identical.
  EXPECT_EQ(from_bin.size(), from_safetensors.size() + 2);
  for (const auto& [name, tensor] : from_safetensors) {
    ASSERT_TRUE(from_bin.count(name)) << name;
    EXPECT_EQ(from_bin[name].scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(from_bin[name], tensor)) << name;
  }
  EXPECT_TRUE(torch::equal(from_bin.at("lm_head.decoder.weight"), from_safetensors.at("roberta.embeddings.word_embeddings.weight")));
  EXPECT_TRUE(torch::equal(from_bin.at("lm_head.decoder.bias"), from_safetensors.at("lm_head.bias")));
}

// Replaces the first occurrence of `from` in the archive with `to` (same length), keeping the
// zip structure intact, so a test can smuggle a different global into data.pkl.
void patch_bytes(const fs::path& path, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::string bytes = dualclip::read_file(path);
  size_t at = bytes.find(from);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, from.size(), to);
  dualclip::write_file_atomic(path, bytes);
}

TEST(TorchBin, PickleWithForeignGlobalIsRejected) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  fs::path path = dir.path() / "pytorch_model.bin";
  fs::copy_file(dualclip::testing::golden_dir() / "pretrained" / "roberta-tiny-bin" / "pytorch_model.bin", path);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  // Swapping a global's name for another of the same length keeps the archive valid.
  patch_bytes(path, "collections\nOrderedDict", "collections\nUserDictXYZ");
  std::string message = error_of([&] { read_torch_bin(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("collections.UserDictXYZ"), std::string::npos) << message;

  fs::copy_file(dualclip::testing::golden_dir() / "pretrained" / "roberta-tiny-bin" / "pytorch_model.bin", path,
                fs::copy_options::overwrite_existing);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  patch_bytes(path, "torch._utils\n_rebuild_tensor_v2", "os.pathxxxxx\n_rebuild_tensor_v2");
  message = error_of([&] { read_torch_bin(path); });
  EXPECT_NE(message.find("os.pathxxxxx._rebuild_tensor_v2"), std::string::npos) << message;
}

TEST(TorchBin, TruncatedArchiveIsRejected) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  fs::path path = dir.path() / "pytorch_model.bin";
  std::string bytes = dualclip::read_file(dualclip::testing::golden_dir() / "pretrained" / "roberta-tiny-bin" / "pytorch_model.bin");
  dualclip::write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  std::string message = error_of([&] { read_torch_bin(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
}

}  // namespace
