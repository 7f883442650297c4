// Inverted dropout whose mask is a pure function of a key, the row's global index and the
// element's coordinates: reproducible for any thread count, batch split or padding.
#pragma once

#include <cstdint>

#include <tapelm/autograd/dropout_rows.h>
#include <tapelm/autograd/variable.h>

namespace tapelm {

// Zeroes each element with probability p and scales survivors by 1/(1-p). Row i0 of x's first
// dimension is row rows[i0] of a larger (global) batch (first_row + i0 for a plain offset);
// element (i0, i1, ..., ik) is dropped iff to_unit(mix(...mix(mix(key, rows[i0]), i1)..., ik)) < p
// (Rng::mix), so
// the same row at another place in another batch, or padded to a longer extent, keeps the
// same elements. When !training or p == 0 it returns x itself. p must be in [0, 1).
Var dropout(const Var& x, float p, uint64_t key, const DropoutRows& rows, bool training);

}  // namespace tapelm
