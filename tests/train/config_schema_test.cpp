// Tests for the reusable schema layer on its own: a config kind other than pretraining built
// from shared sections, suggestions, list values and schema definition mistakes.
#include <tapelm/train/config/config_schema.h>

#include <gtest/gtest.h>

#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/config/suggest.h>

namespace tapelm {
namespace {

// A made-up config kind, standing in for fine-tuning configs that reuse pretraining sections.
struct TaskSection {
  std::string base;  // required
  std::vector<std::string> labels;
  int64_t epochs = 3;
};
struct TaskConfig {
  std::string name = "task";
  TaskSection task;
  OptimizerSection optimizer;
};

ConfigSchema<TaskConfig> task_schema() {
  SectionSchema<TaskConfig> top;
  top.add("name", &TaskConfig::name);
  SectionSchema<TaskSection> task;
  task.add_required("base", &TaskSection::base, non_empty<std::string>())
      .add("labels", &TaskSection::labels)
      .add("epochs", &TaskSection::epochs, at_least(1));
  ConfigSchema<TaskConfig> schema;
  schema.top_level(top).section("task", &TaskConfig::task, task).section("optimizer", &TaskConfig::optimizer,
                                                                          optimizer_section_schema());
  schema.rule([](const TaskConfig& c, const RuleContext& context) {
    context.require(c.task.epochs * static_cast<int64_t>(c.task.labels.size()) <= 100, "task.epochs",
                    "too many epochs for " + std::to_string(c.task.labels.size()) + " labels");
  });
  return schema;
}

std::string task_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    task_schema().load_text(yaml, "task.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigSchema, SectionsAreReusableAcrossConfigKinds) {
  const TaskConfig c = task_schema().load_text("task:\n  base: runs/x\n  labels: [pos, neg]\noptimizer:\n  lr: 0.01\n",
                                               "task.yaml", {"task.epochs=5"});
  EXPECT_EQ(c.name, "task");
  EXPECT_EQ(c.task.base, "runs/x");
  EXPECT_EQ(c.task.labels, (std::vector<std::string>{"pos", "neg"}));
  EXPECT_EQ(c.task.epochs, 5);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.01);
  EXPECT_EQ(c.optimizer.name, "adamw");  // the shared section's default

  EXPECT_EQ(task_error("task:\n  base: x\noptimizer:\n  lr: -1\n"),
            "task.yaml:4:7: optimizer.lr: must be > 0, got -1");
  EXPECT_EQ(task_error("task:\n  bse: x\n"), "task.yaml:2:3: unknown key 'bse' in section 'task' (did you mean 'base'?)");
  EXPECT_EQ(task_error("name: t\n"), "task.yaml: missing required key 'task.base' (add it to the file or pass --set task.base=...)");
  // Rules point at the override that set the offending key.
  EXPECT_EQ(task_error("task:\n  base: x\n  labels: [a, b]\n", {"task.epochs=60"}),
            "--set task.epochs=60: task.epochs: too many epochs for 2 labels");
}

TEST(ConfigSchema, ToYamlRoundTripsAnotherConfigKind) {
  const ConfigSchema<TaskConfig> schema = task_schema();
  const TaskConfig c = schema.load_text("task:\n  base: runs/x\n  labels: [\"yes\", \"1\"]\n", "task.yaml");
  const std::string text = schema.to_yaml(c, "first line\nsecond line");
  EXPECT_EQ(text.rfind("# first line\n# second line\nname: \"task\"\n", 0), 0u) << text;
  const TaskConfig back = schema.load_text(text, "again.yaml");
  EXPECT_EQ(back.task.labels, c.task.labels);
  EXPECT_EQ(back.task.base, c.task.base);
  EXPECT_EQ(schema.to_yaml(back, "first line\nsecond line"), text);
}

TEST(ConfigSchema, LayoutListsSectionsAndKeysInOrder) {
  const ConfigLayout layout = task_schema().layout();
  EXPECT_EQ(layout.top_keys, std::vector<std::string>{"name"});
  EXPECT_EQ(layout.section_names(), (std::vector<std::string>{"task", "optimizer"}));
  ASSERT_NE(layout.keys_of("task"), nullptr);
  EXPECT_EQ(*layout.keys_of("task"), (std::vector<std::string>{"base", "labels", "epochs"}));
  EXPECT_EQ(layout.keys_of("model"), nullptr);
}

TEST(ConfigSchema, DefiningAKeyTwiceIsAProgrammingError) {
  SectionSchema<TaskSection> s;
  s.add("epochs", &TaskSection::epochs);
  EXPECT_THROW(s.add("epochs", &TaskSection::epochs), std::logic_error);
  ConfigSchema<TaskConfig> schema;
  schema.section("task", &TaskConfig::task, SectionSchema<TaskSection>());
  EXPECT_THROW(schema.section("task", &TaskConfig::task, SectionSchema<TaskSection>()), std::logic_error);
}

TEST(ConfigSchema, StringListsAcceptOneStringOrNone) {
  EXPECT_EQ(config_to_string_list(YAML::Load("a.txt")), std::vector<std::string>{"a.txt"});
  EXPECT_TRUE(config_to_string_list(YAML::Load("~")).empty());
  EXPECT_TRUE(config_to_string_list(YAML::Load("\"\"")).empty());
  EXPECT_TRUE(config_to_string_list(YAML::Load("[]")).empty());
  try {
    config_to_string_list(YAML::Load("[a, [b]]"));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "expected a string or a list of strings, got a list containing a list");
  }
}

TEST(Suggest, OnlyPlausibleTyposAreSuggested) {
  const std::vector<std::string> keys = {"n_layer", "n_head", "n_embd", "ctx_len"};
  EXPECT_EQ(closest_match("n_embed", keys), "n_embd");
  EXPECT_EQ(closest_match("n_heads", keys), "n_head");
  EXPECT_EQ(closest_match("vocab", keys), "");
  EXPECT_EQ(suggestion_suffix("lrr", {"lr", "eps"}), " (did you mean 'lr'?)");
  EXPECT_EQ(suggestion_suffix("zzzzz", {"lr", "eps"}), " (expected one of: lr, eps)");
}

}  // namespace
}  // namespace tapelm
