#include <cstdio>

#include "daemon/version.hpp"

int main() {
  std::printf("parleyd %.*s\n", static_cast<int>(parley::daemon::kVersion.size()), parley::daemon::kVersion.data());
  return 0;
}
