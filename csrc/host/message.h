// Error-message formatting without iostreams. On some toolchains (seen with
// GCC 13 + torch 2.11 on the H100 machine) numeric output through an
// ostringstream compiled into this extension crashes inside libstdc++'s
// locale facets, so messages are built from std::to_string and handed to
// TORCH_CHECK as one finished string.
#pragma once
#include <torch/types.h>

#include <cstdio>
#include <string>
#include <type_traits>

namespace aiter {

inline void append(std::string& s, const char* v) { s += v; }
inline void append(std::string& s, const std::string& v) { s += v; }
inline void append(std::string& s, char v) { s += v; }
inline void append(std::string& s, bool v) { s += v ? "True" : "False"; }
inline void append(std::string& s, double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  s += buf;
}
template <typename I, typename = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool> &&
                                                  !std::is_same_v<I, char>>>
void append(std::string& s, I v) {
  s += std::to_string(v);
}
inline void append(std::string& s, c10::IntArrayRef v) {
  s += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  s += ']';
}
inline void append(std::string& s, c10::ScalarType v) { s += c10::toString(v); }
inline void append(std::string& s, const c10::Device& v) { s += v.str(); }
inline void append(std::string& s, c10::Layout v) {
  s += v == c10::kStrided ? "Strided" : v == c10::kSparse ? "Sparse" : "non-strided";
}

template <typename... Args>
std::string message(const Args&... args) {
  std::string s;
  (append(s, args), ...);
  return s;
}

}  // namespace aiter
