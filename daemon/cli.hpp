#pragma once
namespace parley::daemon {
// The parleyd command line (CLI11): runs the daemon, --check-config, --version, account ...
int main_cli(int argc, char** argv);
}  // namespace parley::daemon
