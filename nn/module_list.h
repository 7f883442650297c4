// ModuleList: an indexed sequence of submodules named "0", "1", ... so that a stack of
// blocks gets checkpoint keys like `blocks.3.attn.qkv.weight`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <tapelm/nn/module.h>

namespace tapelm {

template <class M>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> module) {
    items_.push_back(register_module(std::to_string(items_.size()), std::move(module)));
  }
  int64_t size() const { return static_cast<int64_t>(items_.size()); }
  M& operator[](int64_t i) const { return *items_.at(static_cast<std::size_t>(i)); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace tapelm
