#include "config/sections.hpp"

namespace parley::config {

void parse_line(Reader& r, LineConfig& out) {
  r.listen("listen", out.listen, ListenStyle::stream);
  r.boolean("guests", out.guests);
  // Below 64 bytes no command fits with a useful text; 64 KiB is far beyond any chat line.
  r.integer("max_line", out.max_line, 64, 65536);
  r.integer("sendq", out.sendq, 4096, 64 * 1024 * 1024);
}

}  // namespace parley::config
