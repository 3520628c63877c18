#pragma once
// PSYC uniforms (about.psyc.eu Spec:Uniform): the addresses of entities.
//
//   psyc://host[:port[transport]][/]                 the server (root) entity
//   psyc://host[:port[transport]]/~person[#channel]  a person (UNI)
//   psyc://host[:port[transport]]/@place[#channel]   a place (a context: a room)
//
// The port may be negative (psyced names a client's ephemeral port so); the transport is
// one letter: c (TCP circuit), d (UDP datagram), s (TLS). Views point into the input.
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::protocols::psyc {

struct Uniform {
  std::string_view host;     // "example.org", "127.0.0.1", "[::1]"
  std::string_view port;     // "4404", "-32872"; empty: none
  char transport = 0;        // 'c', 'd', 's' or 0
  char kind = 0;             // '~' person, '@' place, 0 the root
  std::string_view name;     // "alice", "dev"
  std::string_view channel;  // after '#'; empty: none
};

// Null when `s` is a valid uniform (filled into out), else the reason it is not.
const char* parse_uniform(std::string_view s, Uniform& out);

std::string person_uniform(std::string_view host, std::string_view name);  // psyc://host/~name
std::string place_uniform(std::string_view host, std::string_view name);   // psyc://host/@name
std::string root_uniform(std::string_view host);                           // psyc://host

}  // namespace parley::protocols::psyc
