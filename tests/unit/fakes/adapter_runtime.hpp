#pragma once
// A real Core on a MemoryStore with the adapters::Runtime plugins are handed, for adapter
// unit tests that drive a plugin without a daemon: run `io` (or poll it) to let posted work
// happen on the core strand.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "adapters/common/runtime.hpp"
#include "core/core.hpp"
#include "core/store/memory_store.hpp"

namespace parley::test {

struct AdapterRuntime {
  boost::asio::io_context io;
  core::MemoryStore store;
  core::Core core{store, core::CoreOptions{}};
  adapters::Runtime rt{io, boost::asio::make_strand(io), core, nullptr};
};

}  // namespace parley::test
