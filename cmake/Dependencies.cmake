# Every dependency is a Debian 12 package installed by scripts/setup.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(pugixml REQUIRED)
find_package(CLI11 REQUIRED)
# The Prometheus text format (adapters/common/metrics_exposition): Debian prometheus-cpp-dev.
find_package(prometheus-cpp REQUIRED COMPONENTS core)
pkg_check_modules(GSASL REQUIRED IMPORTED_TARGET libgsasl)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBRE REQUIRED IMPORTED_TARGET libre)

# core: model, services, store (SQLite), directory (SCRAM credentials via OpenSSL).
add_library(parley_deps_core INTERFACE)
target_link_libraries(parley_deps_core INTERFACE
  PkgConfig::SQLITE3 OpenSSL::Crypto fmt::fmt spdlog::spdlog Threads::Threads)
target_compile_definitions(parley_deps_core INTERFACE SPDLOG_FMT_EXTERNAL)
add_library(parley::deps_core ALIAS parley_deps_core)

# protocols: codecs and connections (Asio, TLS, SASL, XML, libre for SIP).
add_library(parley_deps_protocols INTERFACE)
target_link_libraries(parley_deps_protocols INTERFACE
  Boost::boost Boost::system OpenSSL::SSL OpenSSL::Crypto pugixml::pugixml
  PkgConfig::GSASL fmt::fmt Threads::Threads)
# Debian's libre headers need these when compiled as C++ (see DESIGN.md, Threading).
target_compile_definitions(parley_deps_protocols INTERFACE
  BOOST_ASIO_NO_DEPRECATED HAVE_INTTYPES_H HAVE_STDBOOL_H HAVE_INET6)
add_library(parley::deps_protocols ALIAS parley_deps_protocols)

# daemon: systemd readiness and watchdog (daemon/systemd_notify.cpp). Optional, so that a
# machine without libsystemd-dev still builds (the calls become no-ops); setup.sh installs it.
add_library(parley_deps_daemon INTERFACE)
pkg_check_modules(SYSTEMD IMPORTED_TARGET libsystemd)
if(SYSTEMD_FOUND)
  target_link_libraries(parley_deps_daemon INTERFACE PkgConfig::SYSTEMD)
  target_compile_definitions(parley_deps_daemon INTERFACE PARLEY_HAVE_SYSTEMD=1)
else()
  message(STATUS "libsystemd not found: parleyd will not send sd_notify readiness or watchdog pings")
  target_compile_definitions(parley_deps_daemon INTERFACE PARLEY_HAVE_SYSTEMD=0)
endif()
add_library(parley::deps_daemon ALIAS parley_deps_daemon)
