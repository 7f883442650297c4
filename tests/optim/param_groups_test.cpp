// Default weight-decay grouping: matrices decay; biases, norms and embeddings do not.
#include <tapelm/optim/param_groups.h>

#include <gtest/gtest.h>

namespace tapelm {
namespace {

std::vector<std::string> names_of(const ParamGroup& group) {
  std::vector<std::string> names;
  for (const auto& [name, _] : group.params) names.push_back(name);
  return names;
}

TEST(WeightDecayGroups, DecayWeightMatricesOnlyAndSkipFrozenParameters) {
  auto param = [](Shape shape, bool trainable = true) { return Var(Tensor::zeros(shape), trainable); };
  const NamedParameters params = {
      {"tok_emb.weight", param({50, 8})},
      {"pos_emb.weight", param({16, 8})},
      {"blocks.0.ln1.weight", param({8})},
      {"blocks.0.ln1.bias", param({8})},
      {"blocks.0.attn.qkv.weight", param({24, 8})},
      {"blocks.0.attn.qkv.bias", param({24})},
      {"blocks.0.norm2.weight", param({8})},
      {"blocks.0.mlp.fc.weight", param({32, 8})},
      {"frozen.weight", param({8, 8}, false)},
      {"lm_head.weight", param({50, 8})},
  };
  const std::vector<ParamGroup> groups = weight_decay_groups(params, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "decay");
  EXPECT_DOUBLE_EQ(groups[0].weight_decay, 0.1);
  EXPECT_EQ(names_of(groups[0]),
            (std::vector<std::string>{"blocks.0.attn.qkv.weight", "blocks.0.mlp.fc.weight", "lm_head.weight"}));
  EXPECT_EQ(groups[1].name, "no_decay");
  EXPECT_DOUBLE_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(names_of(groups[1]),
            (std::vector<std::string>{"tok_emb.weight", "pos_emb.weight", "blocks.0.ln1.weight", "blocks.0.ln1.bias",
                                      "blocks.0.attn.qkv.bias", "blocks.0.norm2.weight"}));
  EXPECT_DOUBLE_EQ(groups[0].lr_scale, 1.0);
  EXPECT_DOUBLE_EQ(groups[1].lr_scale, 1.0);
}

TEST(WeightDecayGroups, RuleIsRankAtLeastTwoAndNotAnEmbedding) {
  EXPECT_TRUE(is_decayed_parameter("proj.weight", Var(Tensor::zeros({2, 2}))));
  EXPECT_TRUE(is_decayed_parameter("conv.weight", Var(Tensor::zeros({2, 2, 3}))));
  EXPECT_FALSE(is_decayed_parameter("proj.bias", Var(Tensor::zeros({2}))));
  EXPECT_FALSE(is_decayed_parameter("embedding.weight", Var(Tensor::zeros({2, 2}))));
  EXPECT_FALSE(is_decayed_parameter("wte_emb", Var(Tensor::zeros({2, 2}))));
  EXPECT_FALSE(is_decayed_parameter("scale", Var(Tensor::zeros({}))));
}

}  // namespace
}  // namespace tapelm
