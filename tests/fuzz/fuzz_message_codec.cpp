// fuzz-sources: core/store/message_codec.cpp core/model/address.cpp core/model/error.cpp
// The stored-message codec reads database rows, which may be corrupted: any input must
// decode to an error or to a message that re-encodes and decodes to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/store/message_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace parley::core;
  auto decoded = decode_message(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!decoded.ok()) return 0;
  auto again = decode_message(encode_message(*decoded));
  if (!again.ok() || !(*again == *decoded)) std::abort();
  return 0;
}
