// Hand-written SVG loss curves, and the optional gnuplot PNG.
#include <tapelm/train/loop/loss_plot.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include <tapelm/data/atomic_file.h>
#include <tapelm/train/checkpoint/fs_util.h>

extern char** environ;

namespace tapelm {
namespace {

using Series = std::vector<std::pair<int64_t, double>>;

constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 55;
constexpr const char* kTrainColour = "#1f77b4";
constexpr const char* kValColour = "#ff7f0e";

// The tick spacing for about `ticks` intervals over `span`: 1, 2 or 5 × 10^k.
double nice_step(double span, int ticks) {
  const double raw = span / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
}

struct Axis {
  double lo, hi, step;
  int decimals;  // for tick labels
};

Axis make_axis(double lo, double hi, int ticks, bool integral) {
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  double step = nice_step(hi - lo, ticks);
  if (integral) step = std::max(step, 1.0);
  const int decimals = integral ? 0 : std::max(0, -static_cast<int>(std::floor(std::log10(step))));
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step, decimals};
}

// Tick positions computed from their index, so they do not drift.
std::vector<double> ticks(const Axis& axis) {
  std::vector<double> values;
  const int count = static_cast<int>(std::lround((axis.hi - axis.lo) / axis.step));
  for (int i = 0; i <= count; ++i) values.push_back(axis.lo + i * axis.step);
  return values;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

struct Frame {
  Axis x, y;
  double px(double step) const { return kLeft + (step - x.lo) / (x.hi - x.lo) * (kWidth - kLeft - kRight); }
  double py(double loss) const { return kHeight - kBottom - (loss - y.lo) / (y.hi - y.lo) * (kHeight - kTop - kBottom); }
};

void draw_axes(std::ostringstream& svg, const Frame& f) {
  const double x0 = kLeft, x1 = kWidth - kRight, y0 = kHeight - kBottom, y1 = kTop;
  svg << "<g stroke=\"#ddd\" stroke-width=\"1\">\n";
  for (double v : ticks(f.y)) {
    svg << "<line x1=\"" << x0 << "\" y1=\"" << f.py(v) << "\" x2=\"" << x1 << "\" y2=\"" << f.py(v) << "\"/>\n";
  }
  svg << "</g>\n<g stroke=\"#000\" stroke-width=\"1\">\n";
  svg << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x1 << "\" y2=\"" << y0 << "\"/>\n";
  svg << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x0 << "\" y2=\"" << y1 << "\"/>\n";
  for (double v : ticks(f.x)) {
    svg << "<line x1=\"" << f.px(v) << "\" y1=\"" << y0 << "\" x2=\"" << f.px(v) << "\" y2=\"" << y0 + 5 << "\"/>\n";
  }
  for (double v : ticks(f.y)) {
    svg << "<line x1=\"" << x0 - 5 << "\" y1=\"" << f.py(v) << "\" x2=\"" << x0 << "\" y2=\"" << f.py(v) << "\"/>\n";
  }
  svg << "</g>\n<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#000\">\n";
  for (double v : ticks(f.x)) {
    svg << "<text x=\"" << f.px(v) << "\" y=\"" << y0 + 20 << "\" text-anchor=\"middle\">" << fixed(v, f.x.decimals)
        << "</text>\n";
  }
  for (double v : ticks(f.y)) {
    svg << "<text x=\"" << x0 - 9 << "\" y=\"" << f.py(v) + 4 << "\" text-anchor=\"end\">" << fixed(v, f.y.decimals)
        << "</text>\n";
  }
  svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << kHeight - 12 << "\" text-anchor=\"middle\">step</text>\n";
  svg << "<text transform=\"translate(18," << (y0 + y1) / 2
      << ") rotate(-90)\" text-anchor=\"middle\">loss (nats/token)</text>\n</g>\n";
}

void draw_series(std::ostringstream& svg, const Frame& f, const Series& series, const char* colour, bool markers) {
  if (series.empty()) return;
  svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
  for (const auto& [step, loss] : series) svg << f.px(double(step)) << "," << f.py(loss) << " ";
  svg << "\"/>\n";
  if (!markers) return;
  for (const auto& [step, loss] : series) {
    svg << "<circle cx=\"" << f.px(double(step)) << "\" cy=\"" << f.py(loss) << "\" r=\"3\" fill=\"" << colour << "\"/>\n";
  }
}

void draw_legend(std::ostringstream& svg) {
  const double x = kWidth - kRight - 130, y = kTop + 10;
  svg << "<g font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect x=\"" << x - 8 << "\" y=\"" << y - 8 << "\" width=\"130\" height=\"44\" fill=\"#fff\" stroke=\"#ccc\"/>\n"
      << "<line x1=\"" << x << "\" y1=\"" << y + 4 << "\" x2=\"" << x + 24 << "\" y2=\"" << y + 4 << "\" stroke=\""
      << kTrainColour << "\" stroke-width=\"2\"/>\n"
      << "<text x=\"" << x + 30 << "\" y=\"" << y + 8 << "\">train loss</text>\n"
      << "<line x1=\"" << x << "\" y1=\"" << y + 24 << "\" x2=\"" << x + 24 << "\" y2=\"" << y + 24 << "\" stroke=\""
      << kValColour << "\" stroke-width=\"2\"/>\n"
      << "<circle cx=\"" << x + 12 << "\" cy=\"" << y + 24 << "\" r=\"3\" fill=\"" << kValColour << "\"/>\n"
      << "<text x=\"" << x + 30 << "\" y=\"" << y + 28 << "\">validation loss</text>\n</g>\n";
}

// Quotes `text` as a gnuplot single-quoted string (a quote is written twice).
std::string gnuplot_string(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

void gnuplot_block(std::ostringstream& script, const char* name, const Series& series) {
  script << "$" << name << " << EOD\n";
  for (const auto& [step, loss] : series) script << step << " " << fixed(loss, 9) << "\n";
  script << "EOD\n";
}

// Runs `gnuplot script` with its output discarded; "" on success, else the problem.
std::string run_gnuplot(const std::filesystem::path& script) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  const std::string script_path = script.string();
  char* argv[] = {const_cast<char*>("gnuplot"), const_cast<char*>(script_path.c_str()), nullptr};
  // gnuplot starts with no signal blocked: tapelm's threads block the stop signals for their
  // watcher (train/loop/signals.h), and a child would inherit that.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", &actions, &attributes, argv, environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned == ENOENT) return "gnuplot is not on PATH";
  if (spawned != 0) return std::string("cannot run gnuplot: ") + std::strerror(spawned);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waiting for gnuplot: ") + std::strerror(errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status)) return "gnuplot exited with status " + std::to_string(WEXITSTATUS(status));
  return "gnuplot was killed by signal " + std::to_string(WTERMSIG(status));
}

}  // namespace

std::string loss_svg(const LossHistory& history, const std::string& title) {
  double max_step = 1, lo = INFINITY, hi = -INFINITY;
  for (const Series* s : {&history.train, &history.val}) {
    for (const auto& [step, loss] : *s) {
      max_step = std::max(max_step, double(step));
      lo = std::min(lo, loss);
      hi = std::max(hi, loss);
    }
  }
  if (!(lo <= hi)) lo = hi = 0;  // no points yet: an empty frame
  const Frame frame{make_axis(0, max_step, 8, true), make_axis(lo, hi, 6, false)};

  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
      << "<text x=\"" << kWidth / 2 << "\" y=\"24\" font-family=\"sans-serif\" font-size=\"15\" text-anchor=\"middle\">"
      << xml_escape(title) << "</text>\n";
  draw_axes(svg, frame);
  draw_series(svg, frame, history.train, kTrainColour, false);
  draw_series(svg, frame, history.val, kValColour, true);
  draw_legend(svg);
  svg << "</svg>\n";
  return svg.str();
}

void write_loss_svg(const std::filesystem::path& path, const LossHistory& history, const std::string& title) {
  write_file_atomic(path, loss_svg(history, title));
}

std::string write_loss_png(const std::filesystem::path& path, const LossHistory& history, const std::string& title) {
  const std::filesystem::path temp = temp_path_for(path.string());
  const std::filesystem::path script = temp_path_for(path.string());  // gnuplot's input, removed after
  std::ostringstream gp;
  gp << "set terminal pngcairo size 900,540\n"
     << "set output " << gnuplot_string(temp.string()) << "\n"
     << "set title " << gnuplot_string(title) << " noenhanced\n"
     << "set xlabel 'step'\nset ylabel 'loss (nats/token)'\nset grid\nset key top right\n";
  gnuplot_block(gp, "train", history.train);
  gnuplot_block(gp, "val", history.val);
  std::vector<std::string> plots;
  if (!history.train.empty()) plots.push_back("$train using 1:2 with lines lw 1.5 title 'train loss'");
  if (!history.val.empty()) plots.push_back("$val using 1:2 with linespoints pt 7 ps 0.6 title 'validation loss'");
  if (plots.empty()) return "no points to plot yet";
  gp << "plot " << plots[0];
  for (size_t i = 1; i < plots.size(); ++i) gp << ", " << plots[i];
  gp << "\n";
  write_file_durably(script, gp.str());
  const std::string problem = run_gnuplot(script);
  std::error_code ignored;
  std::filesystem::remove(script, ignored);
  if (!problem.empty()) {
    std::filesystem::remove(temp, ignored);
    return problem;
  }
  std::filesystem::rename(temp, path);
  return "";
}

}  // namespace tapelm
