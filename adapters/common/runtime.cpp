#include "adapters/common/runtime.hpp"
