// Building small count or feature matrices by hand for the baseline tests.
#pragma once

#include <string>
#include <vector>

#include <tapelm/baselines/sparse_rows.h>

namespace tapelm {

// Dense rows to a SparseRows (zeros left out).
inline SparseRows sparse_rows(const std::vector<std::vector<double>>& dense) {
  const Eigen::Index cols = dense.empty() ? 0 : Eigen::Index(dense.front().size());
  SparseRows m(Eigen::Index(dense.size()), cols);
  std::vector<Eigen::Triplet<double>> entries;
  for (size_t r = 0; r < dense.size(); ++r) {
    for (size_t c = 0; c < dense[r].size(); ++c) {
      if (dense[r][c] != 0) entries.emplace_back(int(r), int(c), dense[r][c]);
    }
  }
  m.setFromTriplets(entries.begin(), entries.end());
  return m;
}

inline std::vector<const std::string*> pointers(const std::vector<std::string>& texts) {
  std::vector<const std::string*> out;
  for (const std::string& text : texts) out.push_back(&text);
  return out;
}

}  // namespace tapelm
