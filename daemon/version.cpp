#include "daemon/version.hpp"
