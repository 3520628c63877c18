#pragma once
// List values of _list variables (Spec:Packet, "List syntax"):
//
//   list        =  binary-elem *( "|" binary-elem )   ; length SP bytes
//               =/ "|" text-elem *( "|" text-elem )   ; text-elem: no LF, no "|"
//
// An empty value is the empty list. Elements are views into the value.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::protocols::psyc {

// Null when `value` is a well-formed list, else the reason.
const char* validate_list(std::string_view value);
// Splits a list into at most max_elems elements; the reason on error (too many included).
const char* parse_list(std::string_view value, std::vector<std::string_view>& out, std::size_t max_elems);
// Appends a list: the text form when no element holds "|" or LF, else the binary form.
void render_list(const std::vector<std::string_view>& elems, std::string& out);

}  // namespace parley::protocols::psyc
