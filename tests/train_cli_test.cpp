// `dualclip train` end to end on a COCO-layout folder the test writes: the loss falls, a
// resumed run ends bit-identical to one that never stopped, SIGTERM saves a checkpoint, and
// every bad-input rule fails with a message naming the problem.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/models/dual_encoder.h"
#include "png_writer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using dualclip::testing::run_dualclip;
using dualclip::testing::TempDir;

namespace {

// --- A COCO 2017 caption folder: a coloured square in one of four places per image. ---

const char* const kColours[] = {"red", "green", "blue", "yellow"};
const uint8_t kRgb[][3] = {{220, 30, 30}, {30, 200, 40}, {30, 50, 220}, {230, 220, 30}};
const char* const kPlaces[] = {"top left", "top right", "bottom left", "bottom right"};

void write_coco_split(const fs::path& root, const std::string& split, int images, int first_id) {
  fs::create_directories(root / (split + "2017"));
  fs::create_directories(root / "annotations");
  json images_json = json::array();
  json annotations = json::array();
  for (int i = 0; i < images; ++i) {
    int colour = i % 4;
    int place = (i / 4) % 4;
    std::vector<uint8_t> rgb(48 * 48 * 3, 128);
    int x0 = (place % 2) * 24, y0 = (place / 2) * 24;
    for (int y = y0; y < y0 + 24; ++y) {
      for (int x = x0; x < x0 + 24; ++x) {
        for (int c = 0; c < 3; ++c) rgb[(static_cast<size_t>(y) * 48 + x) * 3 + c] = kRgb[colour][c];
      }
    }
    int id = first_id + i;
    char name[32];
    std::snprintf(name, sizeof(name), "%012d.png", id);
    dualclip::testing::write_png(root / (split + "2017") / name, 48, 48, rgb);
    images_json.push_back({{"id", id}, {"file_name", name}});
    std::string caption = std::string("a ") + kColours[colour] + " square in the " + kPlaces[place];
    annotations.push_back({{"id", 10 * id}, {"image_id", id}, {"caption", caption}});
    annotations.push_back({{"id", 10 * id + 1}, {"image_id", id}, {"caption", "the " + std::string(kPlaces[place]) +
                                                                                  " has a " + kColours[colour] + " block"}});
  }
  json root_json = {{"images", images_json}, {"annotations", annotations}};
  std::ofstream(root / "annotations" / ("captions_" + split + "2017.json")) << root_json.dump();
}

// The starting model: the small clip-roberta dual encoder of the reference folder, copied so
// the test can write beside it.
fs::path copy_start_model(const fs::path& to) {
  fs::copy(dualclip::testing::golden_dir() / "dual" / "clip-roberta", to, fs::copy_options::recursive);
  return to;
}

std::vector<json> read_rows(const fs::path& metrics) {
  std::vector<json> rows;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) rows.push_back(json::parse(line));
  return rows;
}

std::string quote(const fs::path& path) { return "'" + path.string() + "'"; }

struct Workspace {
  TempDir tmp;
  fs::path model;
  fs::path coco;
  Workspace() {
    model = copy_start_model(tmp.path() / "model");
    coco = tmp.path() / "coco";
    write_coco_split(coco, "train", 32, 1);
    write_coco_split(coco, "val", 8, 1000);
  }
  std::string base_args(const fs::path& output_dir) const {
    return "train --model_name_or_path " + quote(model) + " --data_dir " + quote(coco) + " --output_dir " +
           quote(output_dir) + " --max_seq_length 32 --disable_tqdm --dataloader_num_workers 2";
  }
};

}  // namespace

TEST(TrainCli, LossFallsOnCocoFolder) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  fs::path out = ws.tmp.path() / "run";
  std::string output;
  int status = run_dualclip(ws.base_args(out) +
                                " --do_train --do_eval --per_device_train_batch_size 8 --learning_rate 2e-3"
                                " --weight_decay 0.1 --num_train_epochs 12 --logging_steps 4 --save_steps 30"
                                " --save_total_limit 2 --dropout 0 --eval_steps 48 --dataset_name ydshieh/coco_dataset_script",
                            &output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("--dataset_name is ignored"), std::string::npos) << output;

  // 64 captions / batch 8 = 8 steps per epoch, 96 steps; logged every 4.
  auto rows = read_rows(out / "metrics.jsonl");
  std::vector<double> losses;
  int eval_rows = 0;
  for (const auto& row : rows) {
    if (row.contains("loss")) losses.push_back(row["loss"].get<double>());
    if (row.contains("eval_loss")) ++eval_rows;
    if (row.contains("loss")) {
      for (const char* key : {"learning_rate", "grad_norm", "logit_scale", "pairs_per_second", "data_wait_share", "epoch"}) {
        EXPECT_TRUE(row.contains(key)) << key << " missing from " << row.dump();
      }

      // The phase split: forward and backward take time; the phases fit inside the step.
      double phases = 0.0;
      for (const char* key : {"data_wait_seconds", "forward_seconds", "backward_seconds", "communication_seconds",
                              "optimizer_seconds"}) {
        ASSERT_TRUE(row.contains(key)) << key << " missing from " << row.dump();
        EXPECT_GE(row[key].get<double>(), 0.0) << key << " in " << row.dump();
        phases += row[key].get<double>();
      }
      EXPECT_GT(row["forward_seconds"].get<double>(), 0.0) << row.dump();
      EXPECT_GT(row["backward_seconds"].get<double>(), 0.0) << row.dump();
      EXPECT_EQ(row["communication_seconds"].get<double>(), 0.0) << "one process has no all-reduce: " << row.dump();
      EXPECT_LE(phases, row["step_seconds"].get<double>() * 1.01) << row.dump();
    }
  }
  ASSERT_EQ(losses.size(), 24u);
  double first = (losses[0] + losses[1]) / 2, last = (losses[22] + losses[23]) / 2;
  EXPECT_LT(last, 0.6 * first) << "loss went from " << first << " to " << last;
  EXPECT_EQ(eval_rows, 3);  // steps 48 and 96, and the final evaluation

  // Outputs: the final model (loadable), result files, the two newest checkpoints.
  for (const char* name : {"config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json",
                           "train_results.json", "eval_results.json", "all_results.json", "trainer_state.json"}) {
    EXPECT_TRUE(fs::exists(out / name)) << name;
  }
  EXPECT_FALSE(fs::exists(out / "checkpoint-30"));
  for (const char* name : {"checkpoint-60", "checkpoint-90"}) {
    fs::path dir = out / name;
    EXPECT_TRUE(fs::exists(dir / "model.safetensors")) << name;
    EXPECT_TRUE(fs::exists(dir / "optimizer.safetensors")) << name;
    EXPECT_TRUE(fs::exists(dir / "rng_state.safetensors")) << name;
    EXPECT_TRUE(fs::exists(dir / "trainer_state.json")) << name;
    EXPECT_TRUE(fs::exists(dir / "vocab.json")) << name;
  }
  auto results = dualclip::io::read_json(out / "all_results.json");
  for (const char* key : {"train_loss", "eval_loss", "train_runtime", "train_samples_per_second", "eval_samples"}) {
    EXPECT_TRUE(results.contains(key)) << key;
  }
  EXPECT_EQ(results["skipped_images"].get<int64_t>(), 0);
  auto model = dualclip::models::load_dual_encoder(out.string());
  EXPECT_LE(model->logit_scale.item<double>(), std::log(100.0) + 1e-6);
}

TEST(TrainCli, ResumeIsBitIdentical) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  // Dropout stays on (the towers' 0.1) so the generator state matters; accumulation and
  // a partial last batch make the data position non-trivial.
  std::string common = " --do_train --per_device_train_batch_size 5 --gradient_accumulation_steps 2"
                       " --learning_rate 1e-3 --weight_decay 0.1 --warmup_steps 2 --num_train_epochs 2"
                       " --save_steps 4 --logging_steps 1";
  fs::path straight = ws.tmp.path() / "straight";
  std::string output;
  ASSERT_EQ(run_dualclip(ws.base_args(straight) + common, &output), 0) << output;

  // A second run starts from the straight run's checkpoint-4 (as if killed after step 4).
  fs::path resumed = ws.tmp.path() / "resumed";
  fs::create_directories(resumed);
  fs::copy(straight / "checkpoint-4", resumed / "checkpoint-4", fs::copy_options::recursive);
  ASSERT_EQ(run_dualclip(ws.base_args(resumed) + common, &output), 0) << output;
  EXPECT_NE(output.find("resuming from"), std::string::npos) << output;

  auto a = dualclip::io::read_safetensors(straight / "model.safetensors").tensors;
  auto b = dualclip::io::read_safetensors(resumed / "model.safetensors").tensors;
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name << " differs after resume";
  }
  auto state_a = dualclip::io::read_json(straight / "trainer_state.json");
  auto state_b = dualclip::io::read_json(resumed / "trainer_state.json");
  EXPECT_EQ(state_a["global_step"], state_b["global_step"]);
}

namespace {

// The worker of `rank` among the launcher's children, found by its RANK variable; -1 if none.
pid_t find_worker(pid_t launcher, int rank) {
  std::ifstream children("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
  pid_t child = 0;
  while (children >> child) {
    std::ifstream environment("/proc/" + std::to_string(child) + "/environ");
    std::string entry;
    while (std::getline(environment, entry, '\0')) {
      if (entry == "RANK=" + std::to_string(rank)) return child;
    }
  }
  return -1;
}

// Starts an endless training run with `extra_args`, waits for three logged steps, sends
// SIGTERM to the launched process or, with `signal_rank` >= 0, to that rank's worker only,
// and checks that the run saved one checkpoint at the step where it stopped.
void expect_sigterm_saves_checkpoint(const std::string& extra_args, int signal_rank) {
  Workspace ws;
  fs::path out = ws.tmp.path() / "run";
  std::string command = std::string(DUALCLIP_BINARY) + " " + ws.base_args(out) +
                        " --do_train --per_device_train_batch_size 4 --num_train_epochs 1000 --logging_steps 1"
                        " --save_steps 100000" + extra_args + " > " + quote(ws.tmp.path() / "log.txt") + " 2>&1";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }

  // Wait for a few logged steps, then stop it as a job scheduler would.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(out / "metrics.jsonl") && read_rows(out / "metrics.jsonl").size() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  pid_t target = signal_rank >= 0 ? find_worker(pid, signal_rank) : pid;
  if (target <= 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  ASSERT_GT(target, 0) << "no worker of rank " << signal_rank << " under process " << pid;
  kill(target, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream log_file(ws.tmp.path() / "log.txt");
  const std::string log((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << log;

  auto checkpoints = std::vector<fs::path>();
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().filename().string().rfind("checkpoint-", 0) == 0) checkpoints.push_back(entry.path());
  }
  ASSERT_EQ(checkpoints.size(), 1u) << log;
  auto state = dualclip::io::read_json(checkpoints[0] / "trainer_state.json");
  EXPECT_GE(state["global_step"].get<int64_t>(), 3);
  EXPECT_EQ(checkpoints[0].filename().string(), "checkpoint-" + std::to_string(state["global_step"].get<int64_t>()));
  EXPECT_TRUE(fs::exists(checkpoints[0] / "model.safetensors"));
}

}  // namespace

TEST(TrainCli, SigtermSavesCheckpoint) {
  DUALCLIP_REQUIRE_GOLDEN();
  expect_sigterm_saves_checkpoint("", -1);
}

// Only rank 1 receives the signal (as when one node of a job is preempted). Rank 0, which
// writes the checkpoint, must learn of it and stop after the same step. Without that, rank 0
// would wait in the next collective for rank 1, which has left, until --ddp_timeout.
TEST(TrainCli, SigtermToOneRankStopsBoth) {
  DUALCLIP_REQUIRE_GOLDEN();
  std::string port = std::to_string(29600 + (getpid() + 500) % 2000);
  expect_sigterm_saves_checkpoint(" --nproc_per_node 2 --ddp_timeout 60 --master_port " + port, 1);
}

TEST(TrainCli, MissingAndUnreadableImagesSkipped) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  fs::remove(ws.coco / "train2017" / "000000000003.png");
  std::ofstream(ws.coco / "train2017" / "000000000005.png") << "not a png";
  fs::path out = ws.tmp.path() / "run";
  std::string output;
  std::string args = ws.base_args(out) + " --do_train --max_steps 8 --per_device_train_batch_size 8";
  ASSERT_EQ(run_dualclip(args, &output), 0) << output;
  EXPECT_NE(output.find("000000000003.png"), std::string::npos) << output;
  EXPECT_NE(output.find("000000000005.png"), std::string::npos) << output;
  auto results = dualclip::io::read_json(out / "train_results.json");
  EXPECT_GE(results["skipped_images"].get<int64_t>(), 2);  // 2 captions of the missing image, plus the unreadable image's captions

  // --strict_data makes the first one fatal.
  ASSERT_NE(run_dualclip(args + " --strict_data --overwrite_output_dir", &output), 0);
  EXPECT_NE(output.find("000000000003.png"), std::string::npos) << output;
}

TEST(TrainCli, BadInputsNameTheProblem) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  fs::path other = ws.tmp.path() / "other";
  fs::create_directories(other);
  std::ofstream(other / "notes.txt") << "x";
  std::string base = ws.base_args(ws.tmp.path() / "out");

  struct Case {
    std::string args;
    std::string expected;
  };
  std::vector<Case> cases = {
      {base + " --do_train --learning_rat 1e-4", "--learning_rat"},
      {base + " --do_train --learning_rate abc", "--learning_rate"},
      {base + " --do_train --per_device_train_batch_size=0", "--per_device_train_batch_size"},
      {base, "--do_train"},
      {base + " --do_train --evaluation_strategy sometimes", "--evaluation_strategy"},
      {base + " --do_train --lr_scheduler_type poly", "--lr_scheduler_type"},
      {base + " --do_train --weight_decay_rule timm", "--weight_decay_rule"},
      {base + " --do_train --bf16 --fp16", "--bf16"},
      {base + " --do_train --dropout 1.5", "--dropout"},
      {base + " --do_train --resume_from_checkpoint " + quote(ws.tmp.path() / "nowhere"), "nowhere"},
      {"train --model_name_or_path " + quote(ws.model) + " --data_dir " + quote(ws.coco) + " --output_dir " +
           quote(other) + " --do_train --max_seq_length 32",
       "notes.txt"},
      {"train --model_name_or_path " + quote(ws.model) + " --data_dir " + quote(ws.tmp.path() / "empty") +
           " --output_dir " + quote(ws.tmp.path() / "o2") + " --do_train --max_seq_length 32",
       "captions_train2017.json"},
      {"train --model_name_or_path " + quote(ws.model) + " --train_file " + quote(ws.tmp.path() / "pairs.csv") +
           " --output_dir " + quote(ws.tmp.path() / "o3") + " --do_train",
       "pairs.csv"},
  };
  if (!torch::cuda::is_available()) cases.push_back({base + " --do_train --fp16", "--fp16"});
  for (const auto& c : cases) {
    std::string output;
    int status = run_dualclip(c.args, &output);
    EXPECT_NE(status, 0) << c.args;
    EXPECT_NE(output.find(c.expected), std::string::npos) << c.args << "\n" << output;
  }
}

TEST(TrainCli, CsvListWithColumns) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  // A list in another folder, with its own column names and paths relative to itself.
  fs::path lists = ws.tmp.path() / "lists";
  fs::create_directories(lists);
  std::ofstream csv(lists / "pairs.csv");
  csv << "file,text\n";
  for (int i = 1; i <= 12; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "%012d.png", i);
    csv << "../coco/train2017/" << name << ",\"picture " << i << ", a square\"\n";
  }
  csv.close();
  fs::path out = ws.tmp.path() / "run";
  std::string output;
  int status = run_dualclip("train --model_name_or_path " + quote(ws.model) + " --train_file " + quote(lists / "pairs.csv") +
                                " --validation_file " + quote(lists / "pairs.csv") + " --image_column file" +
                                " --caption_column text --output_dir " + quote(out) +
                                " --do_train --do_eval --max_steps 3 --max_train_samples 10 --max_eval_samples 5"
                                " --per_device_train_batch_size 4 --pad_to_max_length --max_seq_length 32 --disable_tqdm",
                            &output);
  ASSERT_EQ(status, 0) << output;
  auto results = dualclip::io::read_json(out / "all_results.json");
  EXPECT_EQ(results["train_samples"].get<int64_t>(), 10);
  EXPECT_EQ(results["eval_samples"].get<int64_t>(), 5);
}

TEST(TrainCli, TwoProcessesThenResumeAlone) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  fs::path two = ws.tmp.path() / "two";
  std::string port = std::to_string(29600 + getpid() % 2000);
  std::string common = " --do_train --per_device_train_batch_size 4 --max_steps 6 --save_steps 2 --logging_steps 1"
                       " --dropout 0";
  std::string output;
  ASSERT_EQ(run_dualclip(ws.base_args(two) + common + " --nproc_per_node 2 --master_port " + port, &output), 0)
      << output;

  // Two ranks of 4 pairs: each step uses 8 samples of the epoch's order.
  auto state = dualclip::io::read_json(two / "checkpoint-2" / "trainer_state.json");
  EXPECT_EQ(state["global_step"].get<int64_t>(), 2);
  EXPECT_EQ(state["dualclip"]["epoch_position"].get<int64_t>(), 16);
  EXPECT_EQ(state["dualclip"]["world_size"].get<int>(), 2);

  // One process resumes the same run at global step 2 and the same place in the epoch.
  fs::path alone = ws.tmp.path() / "alone";
  fs::create_directories(alone);
  fs::copy(two / "checkpoint-2", alone / "checkpoint-2", fs::copy_options::recursive);
  ASSERT_EQ(run_dualclip(ws.base_args(alone) + common, &output), 0) << output;
  EXPECT_NE(output.find("continues from global step 2"), std::string::npos) << output;
  auto rows = read_rows(alone / "metrics.jsonl");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front()["step"].get<int64_t>(), 3);
  auto final_state = dualclip::io::read_json(alone / "trainer_state.json");
  EXPECT_EQ(final_state["global_step"].get<int64_t>(), 6);
}

TEST(TrainCli, TwoProcessesMatchOneProcess) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  // Rank r reads positions r, r+2, ... of the epoch's order, so two ranks of 4 pairs see the
  // same 8 pairs as one process of 8. The global-batch loss and the averaged gradients must
  // then give the same loss at every step, up to float rounding (padding and GEMM shapes differ).
  std::string port = std::to_string(29600 + (getpid() + 1000) % 2000);
  std::string common = " --do_train --max_steps 3 --logging_steps 1 --save_strategy no --dropout 0";
  std::string output;
  fs::path two_ranks_dir = ws.tmp.path() / "two";
  ASSERT_EQ(run_dualclip(ws.base_args(two_ranks_dir) + common + " --per_device_train_batch_size 4 --nproc_per_node 2 "
                                                      "--master_port " + port,
                         &output),
            0)
      << output;
  fs::path one_rank_dir = ws.tmp.path() / "one";
  ASSERT_EQ(run_dualclip(ws.base_args(one_rank_dir) + common + " --per_device_train_batch_size 8", &output), 0) << output;

  auto two_rows = read_rows(two_ranks_dir / "metrics.jsonl");
  auto one_rows = read_rows(one_rank_dir / "metrics.jsonl");
  ASSERT_EQ(two_rows.size(), one_rows.size());
  int compared = 0;
  for (size_t i = 0; i < two_rows.size(); ++i) {
    if (!two_rows[i].contains("loss")) continue;
    ASSERT_TRUE(one_rows[i].contains("loss")) << one_rows[i].dump();
    const double two_loss = two_rows[i]["loss"].get<double>();
    const double one_loss = one_rows[i]["loss"].get<double>();
    EXPECT_NEAR(two_loss, one_loss, 1e-4) << "step " << two_rows[i]["step"];
    EXPECT_NEAR(two_rows[i]["grad_norm"].get<double>(), one_rows[i]["grad_norm"].get<double>(), 1e-3)
        << "step " << two_rows[i]["step"];
    ++compared;
  }
  EXPECT_EQ(compared, 3);
}

TEST(TrainCli, TwoProcessesEmptyBatchStops) {
  DUALCLIP_REQUIRE_GOLDEN();
  Workspace ws;
  // Every training image unreadable: each rank's first batch is empty, which the global-batch
  // loss cannot gather, so the job must stop with a message instead of waiting for a timeout.
  for (const auto& entry : fs::directory_iterator(ws.coco / "train2017")) {
    std::ofstream(entry.path(), std::ios::trunc) << "not an image";
  }
  fs::path out = ws.tmp.path() / "run";
  std::string port = std::to_string(31600 + getpid() % 2000);
  std::string output;
  const auto start = std::chrono::steady_clock::now();
  const int status = run_dualclip(ws.base_args(out) + " --do_train --per_device_train_batch_size 4 --max_steps 2" +
                                      " --nproc_per_node 2 --master_port " + port,
                                  &output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("images of a training batch were unreadable"), std::string::npos) << output;
  EXPECT_NE(output.find("--local_loss"), std::string::npos) << output;
  EXPECT_LT(seconds, 120.0) << "the job waited instead of stopping";
}
