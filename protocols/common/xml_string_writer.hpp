#pragma once
// pugixml's output appended straight to a std::string (save()/print() to an ostringstream
// builds a stream and its locale per document). For the protocols that render with pugixml:
// SIP's PIDF and watcher-info documents, BOSH's payload elements.
#include <cstddef>
#include <pugixml.hpp>
#include <string>

namespace parley::protocols {

struct XmlStringWriter final : pugi::xml_writer {
  std::string& out;
  explicit XmlStringWriter(std::string& o) : out(o) {}
  void write(const void* data, std::size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

}  // namespace parley::protocols
