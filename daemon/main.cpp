#include "daemon/cli.hpp"

int main(int argc, char** argv) { return parley::daemon::main_cli(argc, argv); }
