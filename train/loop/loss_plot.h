// The loss curve of a run, train and validation loss against step: written as SVG by hand
// (no tool needed) and, when gnuplot is on PATH, also rendered as PNG by it.
#pragma once

#include <filesystem>
#include <string>

#include <tapelm/train/loop/metrics.h>

namespace tapelm {

// A complete SVG document: both series as polylines (validation points marked), axes with
// "nice" ticks (1, 2, 5 × 10^k) and labels, a title and a legend.
std::string loss_svg(const LossHistory& history, const std::string& title);

// Writes loss_svg atomically.
void write_loss_svg(const std::filesystem::path& path, const LossHistory& history, const std::string& title);

// Renders the curves to `path` with gnuplot (pngcairo). Returns "" on success, else why not
// ("gnuplot is not on PATH", "gnuplot exited with status 1"); the caller decides whether to
// mention it (the SVG is the plot that is always there).
std::string write_loss_png(const std::filesystem::path& path, const LossHistory& history, const std::string& title);

}  // namespace tapelm
