// task: completion — a GPT fine-tuned on prompt -> completion pairs. Each example is the
// sequence <bos> prompt completion <eos>; the loss counts only the completion and <eos>
// predictions (prompt positions get the ignore index), so the model learns to answer, not
// to reproduce prompts. With init_from the GPT (architecture, weights, tokenizer) is the
// pretraining checkpoint's, loaded strictly. Metrics: the loss over completion tokens and
// the exact match of greedy completions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapelm/autograd/loss.h>
#include <tapelm/data/padding.h>
#include <tapelm/data/tokenizer.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

// Token layout of one training example: inputs [<bos>, prompt..., completion...] and targets
// shifted by one with the prompt positions ignored; the sequence fits max_len inputs by
// cutting the prompt (by `prompt_truncation`) and, if the completion alone is too long, the
// completion's tail.
struct CompletionSequence {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;  // kIgnoreIndex where the next token is <bos> or prompt
};
CompletionSequence completion_sequence(const Tokenizer& tokenizer, const std::string& prompt,
                                       const std::string& completion, int64_t max_len, Truncation prompt_truncation);

std::unique_ptr<FinetuneTask> make_completion_task(const TaskSetup& setup);

}  // namespace tapelm
