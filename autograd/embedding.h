// Embedding lookup: gather forward, deterministic scatter-add backward.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/variable.h>

namespace tapelm {

// table: [V, D]; ids: values in [0, V), laid out with shape ids_shape. Result: ids_shape + [D].
Var embedding(const Var& table, const std::vector<int32_t>& ids, const Shape& ids_shape);

}  // namespace tapelm
