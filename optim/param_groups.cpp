// Weight-decay grouping by rank and name.
#include <tapelm/optim/param_groups.h>

namespace tapelm {

bool is_decayed_parameter(const std::string& name, const Var& param) {
  const bool embedding = name.find("emb") != std::string::npos;
  return param.dim() >= 2 && !embedding;
}

std::vector<ParamGroup> weight_decay_groups(const NamedParameters& params, double weight_decay) {
  ParamGroup decay{"decay", {}, 1.0, weight_decay};
  ParamGroup no_decay{"no_decay", {}, 1.0, 0.0};
  for (const auto& [name, var] : params) {
    if (!var.requires_grad()) continue;
    (is_decayed_parameter(name, var) ? decay : no_decay).params.emplace_back(name, var);
  }
  return {decay, no_decay};
}

}  // namespace tapelm
