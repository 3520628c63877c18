#include "protocols/common/limits.hpp"
