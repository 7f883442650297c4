// Tests for the memory estimate of a config and the refusal of runs that cannot fit: exact
// parameter counts against built models, the shipped configs fitting a small machine, absurd
// sizes estimated without overflow, and the --set train.memory_check=false override.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/nn/gpt.h>
#include "scratch_dir.h"
#include "tests/train/finetune_fixture.h"
#include "tests/train/tiny_run.h"
#include <tapelm/train/config/builders.h>
#include <tapelm/train/cli/finetune_commands.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/config/memory_estimate.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScratchDir;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

TEST(MemoryEstimate, CountsExactlyTheParametersOfTheModelItDescribes) {
  const auto with = [](auto change) {
    ModelSection m;
    m.n_layer = 2;
    m.n_head = 2;
    m.n_embd = 16;
    m.ctx_len = 24;
    change(m);
    return m;
  };
  const std::vector<ModelSection> models = {
      with([](ModelSection&) {}),
      with([](ModelSection& m) { m.ffn = "swiglu"; m.norm = "rmsnorm"; m.bias = false; }),
      with([](ModelSection& m) { m.tie_weights = false; m.pos_encoding = "rope"; m.ffn_hidden = 40; }),
      with([](ModelSection& m) { m.pre_ln = false; m.pos_encoding = "sinusoidal"; m.ffn = "relu"; }),
  };
  for (const ModelSection& m : models) {
    const GPT model(gpt_config(m, 50, 1));
    PretrainConfig config;
    config.model = m;
    config.train.micro_batch_size = 4;
    const MemoryEstimate estimate = estimate_memory(m, pretrain_memory_plan(config, 50));
    EXPECT_EQ(estimate.parameters, double(model.num_parameters())) << to_yaml(config);
    EXPECT_EQ(estimate.gradient_bytes, 4 * estimate.parameters);
    EXPECT_EQ(estimate.optimizer_bytes, 8 * estimate.parameters);  // AdamW: two moments
    EXPECT_GT(estimate.activation_bytes, 0);
    // bf16 products copy every 2-D weight but the embedding tables, and the output projection
    // (the token table when tied).
    double matrices = m.tie_weights ? 50.0 * m.n_embd : 0.0;
    for (const auto& [name, weight] : model.named_parameters()) {
      if (weight.dim() == 2 && name.rfind("tok_emb.", 0) != 0 && name.rfind("pos_emb.", 0) != 0) {
        matrices += double(weight.numel());
      }
    }
    MemoryPlan bf16 = pretrain_memory_plan(config, 50);
    bf16.bf16_copies = true;
    EXPECT_EQ(estimate_memory(m, bf16).bf16_copy_bytes, 2 * matrices) << to_yaml(config);
  }
}

TEST(MemoryEstimate, ShippedConfigsNeedFarLessThanASmallMachineHas) {
  const fs::path root = TAPELM_SOURCE_DIR;
  const MemoryBudget small{2 * kGiB, "a small machine"};
  for (const char* name : {"mobydick.yaml", "spam_emails.yaml", "first_names.yaml"}) {
    const PretrainConfig config = load_config<PretrainConfig>((root / "configs/pretrain" / name).string());
    const MemoryEstimate estimate =
        estimate_memory(config.model, pretrain_memory_plan(config, config.tokenizer.vocab_size));
    EXPECT_EQ(memory_refusal(estimate, small, name, ""), "") << describe_memory(estimate);
  }
  for (const char* name : {"g2p.yaml", "spam.yaml", "names.yaml"}) {
    const FinetuneConfig config = load_config<FinetuneConfig>((root / "configs/finetune" / name).string());
    EXPECT_EQ(memory_refusal(estimate_memory(config.model, finetune_memory_plan(config)), small, name, ""), "");
    EXPECT_EQ(memory_refusal(estimate_memory(config.model, finetune_inference_memory_plan(config)), small, name, ""), "");
  }
}

TEST(MemoryEstimate, AnAverageOfTheWeightsCostsOneMoreFloatPerParameter) {
  const PretrainConfig plain = load_config<PretrainConfig>(
      (fs::path(TAPELM_SOURCE_DIR) / "configs/pretrain/mobydick.yaml").string());
  PretrainConfig averaged = plain;
  averaged.train.ema_decay = 0.999;
  const MemoryEstimate a = estimate_memory(plain.model, pretrain_memory_plan(plain, 512));
  const MemoryEstimate b = estimate_memory(averaged.model, pretrain_memory_plan(averaged, 512));
  EXPECT_DOUBLE_EQ(b.optimizer_bytes - a.optimizer_bytes, 4 * a.parameters);
}

TEST(MemoryEstimate, Bf16PrecisionCountsAHalfSizeCopyOfEveryWeightMatrixAProductReads) {
  PretrainConfig config;
  config.model.n_layer = 2;
  config.model.n_head = 2;
  config.model.n_embd = 16;  // FFN 64 wide
  config.model.ctx_len = 24;
  config.train.micro_batch_size = 4;
  const MemoryEstimate fp32 = estimate_memory(config.model, pretrain_memory_plan(config, 50));
  config.train.precision = "bf16";
  // Counted where bf16 products run; on a CPU or build without them they fall back to fp32.
  EXPECT_EQ(pretrain_memory_plan(config, 50).bf16_copies, bf16_products_available());
  MemoryPlan plan = pretrain_memory_plan(config, 50);
  plan.bf16_copies = true;
  const MemoryEstimate bf16 = estimate_memory(config.model, plan);
  EXPECT_EQ(fp32.bf16_copy_bytes, 0);
  // Per layer qkv 16x48, projection 16x16, FFN 16x64 and 64x16; the tied output 50x16.
  EXPECT_EQ(bf16.bf16_copy_bytes, 2.0 * (2 * (16 * 48 + 16 * 16 + 16 * 64 + 64 * 16) + 50 * 16));
  // Training keeps each layer's linear inputs rounded for the weight gradients: per token the
  // inputs of qkv, the projection and the FFN's up (16 each) and down (64) products.
  EXPECT_EQ(bf16.bf16_activation_copy_bytes, 2.0 * (4 * 24) * 2 * (3 * 16 + 64));
  EXPECT_EQ(bf16.total_bytes(), fp32.total_bytes() + bf16.bf16_copy_bytes + bf16.bf16_activation_copy_bytes);
  EXPECT_THAT(describe_memory(bf16), HasSubstr("bf16 weight copies 13.6 KiB, bf16 activation copies 42.0 KiB"));
  EXPECT_THAT(describe_memory(fp32), Not(HasSubstr("bf16")));

  // An encoder-decoder's cross-attention adds its query, key-value and projection matrices.
  FinetuneConfig seq2seq;
  seq2seq.task = "seq2seq";
  seq2seq.model = config.model;
  seq2seq.seq2seq.n_encoder_layer = 1;
  seq2seq.seq2seq.n_decoder_layer = 1;
  seq2seq.target_tokenizer.type = "bpe";
  seq2seq.target_tokenizer.vocab_size = 40;
  MemoryPlan pair_plan = finetune_memory_plan(seq2seq);
  pair_plan.bf16_copies = true;
  const MemoryEstimate pair = estimate_memory(seq2seq.model, pair_plan);
  EXPECT_EQ(pair.bf16_copy_bytes, 2.0 * (2 * (16 * 48 + 16 * 16 + 16 * 64 + 64 * 16) +
                                         (16 * 16 + 16 * 32 + 16 * 16) + 40 * 16));

  // Evaluating 4 words at a time decodes with products of at most 4 rows, which stay fp32.
  seq2seq.train.precision = "bf16";
  seq2seq.eval.batch_size = 4;
  EXPECT_FALSE(finetune_inference_memory_plan(seq2seq).bf16_copies);
  seq2seq.eval.batch_size = 64;
  EXPECT_EQ(finetune_inference_memory_plan(seq2seq).bf16_copies, bf16_products_available());
}

TEST(MemoryEstimate, AClassifiersDocumentsInWindowsCountEveryWindowOfAMicroBatch) {
  FinetuneConfig windows = load_config<FinetuneConfig>(
      (fs::path(TAPELM_SOURCE_DIR) / "configs/finetune/spam.yaml").string());
  windows.data.max_windows = 4;
  FinetuneConfig rows = windows;
  rows.data.max_windows = 1;
  rows.train.micro_batch_size *= 4;
  EXPECT_DOUBLE_EQ(estimate_memory(windows.model, finetune_memory_plan(windows)).total_bytes(),
                   estimate_memory(rows.model, finetune_memory_plan(rows)).total_bytes());
}

TEST(MemoryEstimate, AbsurdSizesGiveHugeFiguresInsteadOfOverflowing) {
  PretrainConfig config;
  config.model.ffn_hidden = int64_t(1) << 59;  // 2^59 x n_embd elements per matrix wraps in int64
  config.model.bias = false;
  config.train.micro_batch_size = 1;
  EXPECT_GT(estimate_memory(config.model, pretrain_memory_plan(config, 0)).total_bytes(), 1e20);
  config.model = ModelSection{};
  config.model.n_layer = 1000000000;
  const MemoryEstimate layers = estimate_memory(config.model, pretrain_memory_plan(config, 0));
  EXPECT_GT(layers.weight_bytes, 100 * 1024 * kGiB);
  const MemoryEstimate generation = estimate_memory(config.model, generation_memory_plan(config.model, 4096));
  EXPECT_GT(generation.kv_cache_bytes, 0);
  EXPECT_EQ(generation.gradient_bytes, 0);
}

TEST(MemoryEstimate, RefusalSaysWhatIsNeededAndWhatIsAvailable) {
  MemoryEstimate estimate;
  estimate.parameters = 3e9;
  estimate.weight_bytes = 12 * kGiB;
  estimate.optimizer_bytes = 24 * kGiB;
  const std::string refusal =
      memory_refusal(estimate, MemoryBudget{8 * kGiB, "MemAvailable in /proc/meminfo"}, "run.yaml", "try less");
  EXPECT_EQ(refusal,
            "run.yaml needs at least 36.0 GiB of memory for 3.00B parameters (weights 12.0 GiB, optimizer state 24.0 "
            "GiB) but only 8.00 GiB is available (MemAvailable in /proc/meminfo); try less");
  EXPECT_EQ(memory_refusal(estimate, MemoryBudget{36 * kGiB, "enough"}, "run.yaml", ""), "");
}

TEST(MemoryEstimate, TheMachineReportsSomeMemory) {
  const std::optional<MemoryBudget> budget = available_memory();
  ASSERT_TRUE(budget.has_value());
  EXPECT_GT(budget->bytes, 0);
}

TEST(MemoryEstimate, PretrainRefusesARunThatCannotFitUnlessTheCheckIsTurnedOff) {
  ScratchDir scratch;
  const testing::TinyRun tiny = testing::write_tiny_run(scratch);
  const std::vector<std::string> huge = {"model.n_layer=1000000000"};
  try {
    prepare_pretrain(testing::pretrain_args(tiny.config, huge));
    ADD_FAILURE() << "a billion layers were accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(tiny.config.string() + " needs at least "));
    EXPECT_THAT(e.what(), HasSubstr("is available"));
    EXPECT_THAT(e.what(), HasSubstr("--set train.memory_check=false"));
  }
  EXPECT_FALSE(fs::exists(tiny.out_dir)) << "nothing is written for a refused run";
  // The override reaches the check: preparing the run (which allocates nothing) goes through.
  const PreparedRun run = prepare_pretrain(testing::pretrain_args(tiny.config, {huge[0], "train.memory_check=false"}));
  EXPECT_FALSE(run.config.train.memory_check);
}

// A pretraining checkpoint of the tiny run whose config.yaml (manifest and all consistent)
// says model.n_layer is a billion, as if written by a run that could never have fitted.
fs::path checkpoint_claiming_a_billion_layers(const ScratchDir& scratch) {
  const testing::TinyRun tiny = testing::write_tiny_run(scratch, 5);
  testing::run_pretraining(tiny.config);
  const Checkpoint checkpoint = locate_checkpoint(tiny.out_dir);
  std::string config = testing::read_text(checkpoint.file("config.yaml"));
  const size_t at = config.find("n_layer: 2\n");
  EXPECT_NE(at, std::string::npos) << config;
  config.replace(at, 10, "n_layer: 1000000000");
  std::vector<CheckpointFile> files;
  for (const ManifestEntry& entry : checkpoint.files) {
    files.push_back(entry.name == "config.yaml" ? CheckpointFile::from_bytes(entry.name, config)
                                                : CheckpointFile::copy_of(entry.name, checkpoint.file(entry.name)));
  }
  return write_checkpoint(scratch / "huge", checkpoint.step, files).dir;
}

TEST(MemoryEstimate, GenerateRefusesACheckpointWhoseModelCannotBeLoaded) {
  ScratchDir scratch;
  const fs::path checkpoint = checkpoint_claiming_a_billion_layers(scratch);
  // Under an address-space limit, so that without the check the attempt ends quickly; not in
  // an AddressSanitizer build, whose shadow memory alone takes more address space than that.
#if defined(__SANITIZE_ADDRESS__)
  const std::string limit;
#else
  const std::string limit = "ulimit -v 4000000; ";
#endif
  const fs::path err = scratch / "stderr.txt";
  const std::string command = limit + "exec '" + (fs::path(TAPELM_BINARY_DIR) / "tapelm").string() +
                              "' generate --checkpoint '" + checkpoint.string() + "' --prompt The >/dev/null 2>'" +
                              err.string() + "'";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << testing::read_text(err);
  EXPECT_EQ(WEXITSTATUS(status), 2) << testing::read_text(err);
  EXPECT_THAT(testing::read_text(err), HasSubstr("tapelm: error: " + checkpoint.string() + " needs at least "));
  EXPECT_THAT(testing::read_text(err), HasSubstr("KV cache"));
}

TEST(MemoryEstimate, FinetuningRefusesAnInitFromModelThatCannotFit) {
  ScratchDir scratch;
  const fs::path checkpoint = checkpoint_claiming_a_billion_layers(scratch);
  testing::write_text(scratch / "toy.jsonl", testing::toy_classification_jsonl());
  // No model keys: the architecture comes from the checkpoint, and only then is it known.
  testing::write_text(scratch / "ft.yaml", "out_dir: " + (scratch / "ft").string() +
                                               "\ntask: classification\ninit_from: " + checkpoint.string() +
                                               "\ndata: {format: jsonl, train: " + (scratch / "toy.jsonl").string() +
                                               "}\n");
  try {
    prepare_finetune(testing::finetune_args(scratch / "ft.yaml"));
    ADD_FAILURE() << "a billion layers from init_from were accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("ft.yaml needs at least "));
  }
  EXPECT_FALSE(fs::exists(scratch / "ft")) << "a refused run leaves no out_dir";
}

}  // namespace
}  // namespace tapelm
