// Default parameter grouping for weight decay.
//
// The rule: a parameter is decayed iff its tensor has rank >= 2 (a weight matrix) and it
// is not an embedding table, i.e. its name does not contain "emb" (`tok_emb.weight`,
// `pos_emb.weight`, `embedding.weight`). Biases and normalisation
// gains/shifts are rank 1, so they are never decayed whatever they are called. Parameters
// with requires_grad off (frozen) are left out of every group.
#pragma once

#include <string>
#include <vector>

#include <tapelm/optim/optimizer.h>

namespace tapelm {

bool is_decayed_parameter(const std::string& name, const Var& param);

// Two groups, in parameter order: "decay" (weight_decay) and "no_decay" (0); lr_scale 1.
// Empty groups are kept so group indices are stable.
std::vector<ParamGroup> weight_decay_groups(const NamedParameters& params, double weight_decay);

}  // namespace tapelm
