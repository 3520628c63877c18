#pragma once
// Listen addresses in the config: the parser and the typed value live in
// protocols/common/listen_address.hpp (one parser for the loader and the listeners); the
// config sections hold typed ListenAddress values, checked when the file is loaded.
#include "protocols/common/listen_address.hpp"

namespace parley::config {

using protocols::ListenAddress;
using protocols::ListenStyle;
using protocols::parse_listen;
using protocols::to_string;
using protocols::Transport;

}  // namespace parley::config
