// Parameter tables for logs.
#include <tapelm/nn/summary.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace tapelm {

std::string format_count(int64_t n) {
  static const struct { double scale; const char* suffix; } kUnits[] = {{1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  for (const auto& unit : kUnits) {
    if (n >= unit.scale) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f%s", static_cast<double>(n) / unit.scale, unit.suffix);
      return buf;
    }
  }
  return std::to_string(n);
}

std::string model_summary(const Module& model) {
  const NamedParameters params = model.named_parameters();
  std::size_t name_width = 9;  // "parameter"
  std::size_t shape_width = 5;  // "shape"
  for (const auto& [name, v] : params) {
    name_width = std::max(name_width, name.size());
    shape_width = std::max(shape_width, shape_str(v.shape()).size());
  }
  std::ostringstream out;
  auto row = [&](const std::string& name, const std::string& shape, const std::string& count) {
    out << name << std::string(name_width - name.size() + 2, ' ') << shape
        << std::string(shape_width - shape.size() + 2, ' ') << count << '\n';
  };
  row("parameter", "shape", "count");
  int64_t total = 0;
  for (const auto& [name, v] : params) {
    row(name, shape_str(v.shape()), std::to_string(v.numel()));
    total += v.numel();
  }
  out << "total: " << total << " parameters (" << format_count(total) << ") in " << params.size() << " tensors\n";
  return out.str();
}

}  // namespace tapelm
