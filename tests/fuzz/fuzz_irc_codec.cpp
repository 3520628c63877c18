// Fuzzes the IRC line framer, parser, tag unescaping, formatting (parse, render, split into
// lines) and the writer.
// fuzz-sources: protocols/irc/message.cpp protocols/irc/text.cpp
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/irc/message.hpp"
#include "protocols/irc/text.hpp"

using namespace parley::protocols::irc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (Fallback fb : {Fallback::latin1, Fallback::reject}) {
    LineFramer framer(fb);
    std::string_view buf = in;
    std::string out;
    int guard = 0;
    while (!buf.empty() && ++guard < 100000) {
      auto r = framer.next(buf);
      if (r.consumed > buf.size()) __builtin_trap();
      buf.remove_prefix(r.consumed);
      if (r.status == LineFramer::Status::need_more) break;
      if (r.status != LineFramer::Status::line) continue;
      Message m;
      if (parse_line(r.line, m) != ParseError::none) continue;
      if (m.nparams > kMaxParams) __builtin_trap();
      for_each_tag(m.tags, [](Tag t) { (void)unescape_tag_value(t.value); });
      LineWriter w(out);
      w.tags(m.tags).prefix(m.prefix).command(m.command);
      for (std::size_t i = 0; i < m.nparams; ++i) w.param(m.params[i]);
      w.end();
      auto styled = parse_formatting(m.param(m.nparams ? m.nparams - 1 : 0));
      for (const auto& s : styled.spans)
        if (s.begin > s.end || s.end > styled.text.size()) __builtin_trap();
      if (styled.spans.size() > kMaxSpans) __builtin_trap();
      (void)render_formatting(styled.text, styled.spans);
      // Lines within the budget (a lone character with its codes may exceed a tiny one).
      const std::size_t budget = 1 + size % 600, max_lines = 1 + size % 12;
      auto lines = render_lines(styled.text, styled.spans, budget, max_lines);
      if (lines.lines.size() > max_lines) __builtin_trap();
      for (const auto& l : lines.lines)
        if (l.empty() || l.size() > (budget > 18 ? budget : 18) || l.find('\n') != std::string::npos)
          __builtin_trap();
      (void)ctcp_action(m.param(1));
    }
  }
  return 0;
}
