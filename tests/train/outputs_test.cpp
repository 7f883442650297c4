// Tests for the trainer's output files and helpers: metrics.jsonl (recovery on resume), the
// SVG loss plot, trainer_state.json, config comparison for resume, and console formatting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>

#include "scratch_dir.h"
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/loop/loss_plot.h>
#include <tapelm/train/loop/metrics.h>
#include <tapelm/train/loop/progress.h>
#include <tapelm/train/checkpoint/resume.h>
#include <tapelm/train/checkpoint/trainer_state.h>

namespace tapelm {
namespace {

using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

TEST(MetricsLog, WritesOneJsonObjectPerLineWithExactNumbers) {
  ScratchDir scratch;
  {
    MetricsLog log(scratch / "metrics.jsonl", std::nullopt);
    log.log(TrainRecord{1, 4.787492275238037, 1e-3, 0.5, 1234.5, 0}, "tokens_per_s");
    log.log(TrainRecord{2, NAN, 1e-3, INFINITY, 1000, 1}, "tokens_per_s");
    log.log(2, {{"val_loss", 4.5}, {"val_ppl", std::exp(4.5)}});
    EXPECT_EQ(log.history().train, (std::vector<std::pair<int64_t, double>>{{1, 4.787492275238037}}));
    EXPECT_EQ(log.history().val, (std::vector<std::pair<int64_t, double>>{{2, 4.5}}));
  }
  EXPECT_EQ(read_text(scratch / "metrics.jsonl"),
            "{\"step\":1,\"loss\":4.787492275238037,\"lr\":0.001,\"grad_norm\":0.5,\"tokens_per_s\":1234.5,"
            "\"skipped_steps\":0}\n"
            "{\"step\":2,\"loss\":null,\"lr\":0.001,\"grad_norm\":null,\"tokens_per_s\":1000.0,\"skipped_steps\":1}\n"
            "{\"step\":2,\"val_loss\":4.5,\"val_ppl\":90.01713130052181}\n");
}

TEST(MetricsLog, ResumeKeepsRecordsUpToTheCheckpointAndDropsLaterAndTornOnes) {
  ScratchDir scratch;
  write_text(scratch / "metrics.jsonl",
             "{\"step\":10,\"loss\":3.0}\n{\"step\":10,\"val_loss\":3.1,\"val_ppl\":22.2}\n"
             "{\"step\":20,\"loss\":2.0}\n{\"step\":30,\"lo");
  {
    MetricsLog log(scratch / "metrics.jsonl", int64_t{10});
    EXPECT_EQ(log.history().train.size(), 1u);
    EXPECT_EQ(log.history().val.size(), 1u);
    log.log(11, {{"loss", 2.5}, {"lr", 1e-3}});
  }
  const std::string text = read_text(scratch / "metrics.jsonl");
  EXPECT_EQ(text.rfind("{\"step\":10,\"loss\":3.0}\n{\"step\":10,\"val_loss\":3.1,\"val_ppl\":22.2}\n{\"step\":11,", 0), 0u)
      << text;
  EXPECT_EQ(text.find("\"step\":20"), std::string::npos);

  MetricsLog fresh(scratch / "metrics.jsonl", std::nullopt);
  EXPECT_EQ(read_text(scratch / "metrics.jsonl"), "") << "a new run starts a new file";
}

TEST(LossPlot, SvgHasBothCurvesNiceTicksAndLabels) {
  LossHistory history;
  for (int step = 10; step <= 200; step += 10) history.train.emplace_back(step, 5.0 - step / 100.0);
  history.val = {{100, 4.2}, {200, 3.3}};
  const std::string svg = loss_svg(history, "run <a&b>: step 200");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("run &lt;a&amp;b&gt;: step 200"), std::string::npos) << "the title is escaped";
  // x ticks 0, 25, ..., 200 (steps); y ticks every 0.5 from 3.0 to 5.0.
  for (const char* tick : {">0</text>", ">100</text>", ">200</text>", ">3.0</text>", ">4.0</text>", ">5.0</text>"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  const std::regex polyline("<polyline[^>]*points=\"([^\"]*)\"");
  auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
  ASSERT_NE(it, std::sregex_iterator());
  const std::string train_points = (*it)[1];
  EXPECT_EQ(std::count(train_points.begin(), train_points.end(), ','), 20) << "one point per train record";
  ++it;
  ASSERT_NE(it, std::sregex_iterator());
  const std::string val_points = (*it)[1];
  EXPECT_EQ(std::count(val_points.begin(), val_points.end(), ','), 2);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loss (nats/token)</text>"), std::string::npos);
}

TEST(LossPlot, EmptyHistoryStillGivesAValidFrame) {
  const std::string svg = loss_svg(LossHistory{}, "nothing yet");
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
}

TEST(TrainerState, RoundTripsThroughJsonAndNamesProblems) {
  TrainerState s;
  s.step = 1200;
  s.examples_seen = 1200 * 32;
  s.sampler = {{"seed", 0x6A09E667F3BCC909ull ^ 1337}, {"counter", 38400}};
  s.best_metric = 3.8125;
  s.best_step = 1100;
  s.evals_without_improvement = 1;
  s.early_stopped = true;
  s.skipped_steps = 2;
  s.bad_steps_in_a_row = 1;
  s.world_size = 2;
  const TrainerState back = parse_trainer_state(to_json(s), "state.json");
  EXPECT_EQ(back.step, s.step);
  EXPECT_EQ(back.examples_seen, s.examples_seen);
  EXPECT_EQ(back.sampler, s.sampler);
  EXPECT_EQ(back.best_metric, s.best_metric);
  EXPECT_EQ(back.best_step, 1100);
  EXPECT_EQ(back.evals_without_improvement, 1);
  EXPECT_TRUE(back.early_stopped);
  EXPECT_EQ(back.skipped_steps, 2);
  EXPECT_EQ(back.bad_steps_in_a_row, 1);
  EXPECT_EQ(back.world_size, 2);
  EXPECT_FALSE(parse_trainer_state(to_json(TrainerState{}), "x").best_metric.has_value());

  for (const char* bad : {"{", "{\"format\":\"other\",\"version\":1}",
                          "{\"format\":\"tapelm-trainer-state\",\"version\":2,\"step\":3}"}) {
    try {
      parse_trainer_state(bad, "ckpt/trainer_state.json");
      ADD_FAILURE() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind("ckpt/trainer_state.json: ", 0), 0u) << e.what();
    }
  }
}

TEST(TrainerState, ReadsTheVersionOneFilesOfPretrainingAndFineTuning) {
  const TrainerState pretrain = parse_trainer_state(
      R"({"format":"tapelm-trainer-state","version":1,"step":40,"tokens_seen":10240,"sampler":{"seed":7,"counter":9},)"
      R"("dropout_rng":{"seed":1,"counter":2},"best_val_loss":3.5,"skipped_steps":1,"bad_steps_in_a_row":0,)"
      R"("world_size":2,"dropout_rng_per_rank":[{"seed":1,"counter":2},{"seed":3,"counter":4}]})",
      "old/trainer_state.json", /*per_example=*/64);
  EXPECT_EQ(pretrain.step, 40);
  EXPECT_EQ(pretrain.examples_seen, 160);
  EXPECT_EQ(pretrain.sampler, nlohmann::json({{"seed", 7}, {"counter", 9}}));
  EXPECT_EQ(pretrain.best_metric, 3.5);
  EXPECT_EQ(pretrain.world_size, 2);
  const TrainerState finetune = parse_trainer_state(
      R"({"format":"tapelm-finetune-state","version":1,"step":30,"examples_seen":480,)"
      R"("sampler":{"seed":5,"epoch":2,"position":16},"dropout":{"seed":1,"counter":2},"best_metric":0.9,)"
      R"("best_step":20,"evals_without_improvement":1,"skipped_steps":0,"bad_steps_in_a_row":0,"early_stopped":false})",
      "old/finetune_state.json");
  EXPECT_EQ(finetune.examples_seen, 480);
  EXPECT_EQ(finetune.sampler, nlohmann::json({{"seed", 5}, {"epoch", 2}, {"position", 16}}));
  EXPECT_EQ(finetune.best_step, 20);
  EXPECT_EQ(to_json(finetune).find("dropout"), std::string::npos) << "dropout masks have no state to save";
  try {
    parse_trainer_state(R"({"format":"tapelm-trainer-state","version":3})", "new/trainer_state.json");
    ADD_FAILURE() << "a newer version was read";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("version 3; this tapelm reads tapelm-trainer-state versions 1 and 2"),
              std::string::npos)
        << e.what();
  }
}

TEST(ResumeConfig, ChangesAreListedByQualifiedKeyWithBothValues) {
  const PretrainConfig before = parse_config<PretrainConfig>("out_dir: runs/a\ndata: {train: a.txt}\n", "a.yaml");
  PretrainConfig after = before;
  after.optimizer.lr = 5e-4;
  after.seed = 1;
  after.model.n_head = 8;
  const std::vector<ConfigChange> changes = config_changes(before, after);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key, "seed");
  EXPECT_EQ(changes[0].before, "1337");
  EXPECT_EQ(changes[0].after, "1");
  EXPECT_EQ(changes[1].key, "model.n_head");
  EXPECT_EQ(changes[2].key, "optimizer.lr");
  EXPECT_EQ(changes[2].before, "0.001");
  EXPECT_EQ(changes[2].after, "0.0005");
  EXPECT_TRUE(config_changes(before, before).empty());
}

TEST(Progress, DurationsAndRatesReadNaturally) {
  EXPECT_EQ(format_duration(4.4), "4s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(7625), "2h07m");
  EXPECT_EQ(format_duration(NAN), "?");
  EXPECT_EQ(format_rate(812.3), "812");
  EXPECT_EQ(format_rate(12345), "12.3k");
  EXPECT_EQ(format_rate(1450000), "1.45M");
}

TEST(Progress, LogLinesOnlyAtTheIntervalWithoutABar) {
  std::ostringstream log;
  ProgressDisplay display(log, nullptr, 0, 100);
  display.step(TrainRecord{1, 5.0, 1e-3, 1.0, 1000, 0}, false);
  EXPECT_EQ(log.str(), "");
  display.step(TrainRecord{10, 4.25, 1e-3, 0.5, 20000, 0}, true);
  EXPECT_EQ(log.str().rfind("step 10/100 | loss 4.2500 | lr 1.000e-03 | grad_norm 0.500 | 20.0k tok/s | ETA ", 0), 0u)
      << log.str();
  display.print("step 10: val_loss 4.3");
  EXPECT_NE(log.str().find("\nstep 10: val_loss 4.3\n"), std::string::npos);
}

TEST(Progress, TheRateIsShownInTheUnitTheDisplayWasGiven) {
  std::ostringstream log, bar;
  ProgressDisplay lines(log, nullptr, 0, 100, "ex/s");
  lines.step(TrainRecord{10, 0.5, 1e-3, 0.5, 123.4, 0}, true);
  EXPECT_NE(log.str().find("| 123 ex/s | ETA "), std::string::npos) << log.str();
  ProgressDisplay in_place(log, &bar, 0, 100, "ex/s");
  in_place.step(TrainRecord{10, 0.5, 1e-3, 0.5, 123.4, 0}, true);
  EXPECT_EQ(bar.str().rfind("\r[##..................] step 10/100 | loss 0.5000", 0), 0u) << bar.str();
  EXPECT_NE(bar.str().find("| 123 ex/s | ETA "), std::string::npos) << bar.str();
}

TEST(Progress, BarIsRedrawnInPlaceAndMessagesClearIt) {
  std::ostringstream log, bar;
  {
    ProgressDisplay display(log, &bar, 0, 10);
    display.step(TrainRecord{5, 4.0, 1e-3, 1.0, 1000, 0}, true);
    display.print("eval");
    display.step(TrainRecord{10, 3.0, 1e-3, 1.0, 1000, 2}, true);
  }
  EXPECT_EQ(log.str(), "eval\n") << "no log lines while the bar shows progress";
  EXPECT_EQ(bar.str().rfind("\r[##########..........] step 5/10 | loss 4.0000", 0), 0u) << bar.str();
  EXPECT_NE(bar.str().find("\r\033[K\r[####################] step 10/10"), std::string::npos) << bar.str();
  EXPECT_NE(bar.str().find("| skipped 2\033[K\n"), std::string::npos) << bar.str();
}

}  // namespace
}  // namespace tapelm
