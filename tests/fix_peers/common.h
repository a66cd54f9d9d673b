// Shared by the QuickFIX test peers: line-oriented stdout (one event per line, flushed),
// raw message rendering with '|' for SOH, and a tiny whitespace tokenizer for stdin commands.
#pragma once

#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <quickfix/Application.h>
#include <quickfix/Group.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>

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

// MarketDataRequest (35=V): <kind> is SubscriptionRequestType (263), both sides (267/269), <sym> listed
// <repeat> times in NoRelatedSym (146); MDUpdateType (265) and AggregatedBook (266) only when given.
inline void md_request(const FIX::SessionID& sid, const std::string& kind, const std::string& id,
                       const std::string& sym, const std::string& depth, const std::string& upd,
                       const std::string& aggregated = "", int repeat = 1) {
  FIX::Message v;
  v.getHeader().setField(FIX::StringField(35, "V"));
  v.setField(FIX::StringField(262, id));
  v.setField(FIX::StringField(263, kind));
  v.setField(FIX::StringField(264, depth));
  if (!upd.empty()) v.setField(FIX::StringField(265, upd));
  if (!aggregated.empty()) v.setField(FIX::StringField(266, aggregated));
  for (const char* t : {"0", "1"}) {
    FIX::Group g(267, 269);
    g.setField(FIX::StringField(269, t));
    v.addGroup(g);
  }
  for (int i = 0; i < repeat; ++i) {
    FIX::Group s(146, 55);
    s.setField(FIX::StringField(55, sym));
    v.addGroup(s);
  }
  FIX::Session::sendToTarget(v, sid);
}

// The initiator side both customer peers share (qf_customer, qf_trader): the password in Logon (554), every
// admin message reported both ways, every application message as APP <raw>.
class Initiator : public FIX::Application {
 public:
  std::string password;
  FIX::SessionID sid;
  bool have_sid = false;

  void onCreate(const FIX::SessionID& s) override {
    sid = s;
    have_sid = true;
  }
  void onLogon(const FIX::SessionID&) override { emit("LOGON"); }
  void onLogout(const FIX::SessionID&) override { emit("LOGOUT"); }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    if (m.getHeader().getField(35) == "A" && !password.empty()) m.setField(FIX::StringField(554, password));
    emit("ADMIN_OUT " + peer::field(m.getHeader(), 35) + " " + peer::field(m.getHeader(), 34));
  }
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    emit("ADMIN_IN " + peer::field(m.getHeader(), 35) + " " + peer::field(m.getHeader(), 34) + " " +
         peer::field(m.getHeader(), 43) + " " + peer::field(m, 58));
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::UnsupportedMessageType) override {
    emit("APP " + peer::raw(m));
  }
};

}  // namespace peer
