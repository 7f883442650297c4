// tapelm command-line entry point.
#include <cstdio>

int main() {
  std::puts("tapelm: commands are not wired yet");
  return 1;
}
