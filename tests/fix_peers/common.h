// Shared by the QuickFIX test peers: line-oriented stdout (one event per line, flushed),
// raw message rendering with '|' for SOH, and a tiny whitespace tokenizer for stdin commands.
#pragma once

#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <quickfix/Message.h>

namespace peer {

inline std::mutex& out_mutex() {
  static std::mutex m;
  return m;
}

inline void emit(const std::string& line) {
  std::lock_guard<std::mutex> lock(out_mutex());
  std::cout << line << std::endl;  // endl flushes: the Python test reads line by line
}

inline std::string raw(const FIX::Message& m) {
  std::string s = m.toString();
  for (char& c : s) {
    if (c == '\x01') c = '|';
  }
  return s;
}

inline std::string field(const FIX::FieldMap& m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string("-");
}

inline std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace peer
