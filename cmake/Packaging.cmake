# The Debian package (scripts/package.sh runs `cpack -G DEB` in build-release): parleyd in
# /usr/sbin, /etc/parley/parley.yaml (conffile), the systemd unit, man pages, copyright and
# changelog, and maintainer scripts that create the parley user (packaging/).
set(pkg ${CMAKE_SOURCE_DIR}/packaging)
set(gen ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${gen})

# /etc/parley/parley.yaml: the embedded default with a deployment header instead of the
# first comment block, and data_dir /var/lib/parley (the unit's StateDirectory).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/config/parley.yaml ${pkg}/parley.yaml.header)
file(READ ${CMAKE_SOURCE_DIR}/config/parley.yaml default_yaml)
file(READ ${pkg}/parley.yaml.header etc_header)
string(FIND "${default_yaml}" "\n\n" header_end)
math(EXPR header_end "${header_end} + 1")  # keep one blank line after the header
string(SUBSTRING "${default_yaml}" ${header_end} -1 default_body)
string(REGEX REPLACE "data_dir: \\./var[ ]*#[^\n]*" "data_dir: /var/lib/parley  # SQLite store (parley.db) and generated TLS files (tls/); the unit's StateDirectory" default_body "${default_body}")
string(REPLACE "control_socket: ./var/control" "control_socket: /run/parley/control" default_body "${default_body}")
file(WRITE ${gen}/parley.yaml.tmp "${etc_header}${default_body}")
configure_file(${gen}/parley.yaml.tmp ${gen}/parley.yaml COPYONLY)  # rewritten only when it changes

# Man pages and the changelog, compressed reproducibly (gzip -9n: no name, no time stamp).
set(gz_outputs)
foreach(f parleyd.8 parley.yaml.5 changelog)
  add_custom_command(OUTPUT ${gen}/${f}.gz
    COMMAND gzip -9n -c ${pkg}/${f} > ${gen}/${f}.gz
    DEPENDS ${pkg}/${f} VERBATIM)
  list(APPEND gz_outputs ${gen}/${f}.gz)
endforeach()
add_custom_target(parley_package_files ALL DEPENDS ${gz_outputs})

include(GNUInstallDirs)
install(TARGETS parleyd RUNTIME DESTINATION sbin)
install(FILES ${gen}/parley.yaml DESTINATION /etc/parley)  # postinst makes it root:parley 0640
install(FILES ${pkg}/parleyd.service DESTINATION /lib/systemd/system)
install(FILES ${gen}/parleyd.8.gz DESTINATION share/man/man8)
install(FILES ${gen}/parley.yaml.5.gz DESTINATION share/man/man5)
install(FILES ${pkg}/copyright ${gen}/changelog.gz DESTINATION share/doc/parley)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME parley)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# A placeholder until the project has a real contact (also in packaging/changelog).
set(PARLEY_PACKAGE_MAINTAINER "Parley developers <parley@example.org>" CACHE STRING "Maintainer: of the Debian package")
set(CPACK_PACKAGE_CONTACT "${PARLEY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # parley_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # libc, libssl, libsqlite3, ... from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "multi-protocol instant-messaging gateway (IRC, XMPP)")
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the extended description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Parley is an IM gateway and relay daemon: IRC and XMPP clients share one
neutral model of people, presence, messages and rooms, so that a user on one
protocol can talk to, and see the presence of, a user on another. The IRC
channel #dev is the XMPP room dev@conference.DOMAIN.
.
This package runs parleyd as a hardened systemd service (Type=notify, user
parley, state in /var/lib/parley).")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${pkg}/conffiles ${pkg}/postinst ${pkg}/prerm ${pkg}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
