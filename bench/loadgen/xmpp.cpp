#include "run.hpp"

namespace loadgen {
int xmpp_main(const std::string& cmd, Options&) { throw Failure("not implemented yet: " + cmd); }
}  // namespace loadgen
