// A QuickFIX/C++ acceptor playing a FIX market-data venue for dragonfly's client.
//
// usage: qf_venue SETTINGS_FILE
// stdout (one event per line): READY, LOGON, LOGOUT, ADMIN_IN <35> <34> <43>, ADMIN_OUT <35> <34>,
//   MDREQ <262> <55> <264> <265>, SENT <35> <34>, SEQ <next sender> <next target>, ERR <text>
// stdin commands:
//   set <0|1> <price> <size>   change the book; sends 35=X (279=0 new / 1 change) to the subscriber
//   del <0|1> <price>          remove a level; sends 35=X 279=2
//   gap <n>                    skip n outgoing MsgSeqNum (the client must ResendRequest; answered by GapFill)
//   logout                     Logout the session (QuickFIX then refuses logons until "enable")
//   enable                     accept logons again
//   seq                        print SEQ
//   quit                       stop and exit
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Group.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>

#include "common.h"

using peer::emit;

class Venue : public FIX::Application {
 public:
  std::mutex mu;
  FIX::SessionID sid;
  bool have_sid = false;
  std::string req_id;
  std::string symbol = "ETH-BTC";
  std::map<std::string, std::string> bids{{"0.0500", "1.5"}, {"0.0499", "2"}, {"0.0498", "3.25"}};
  std::map<std::string, std::string> asks{{"0.0501", "1"}, {"0.0502", "4"}, {"0.0503", "0.5"}};

  void onCreate(const FIX::SessionID& s) override {
    std::lock_guard<std::mutex> l(mu);
    sid = s;
    have_sid = true;
  }
  void onLogon(const FIX::SessionID&) override { emit("LOGON"); }
  void onLogout(const FIX::SessionID&) override { emit("LOGOUT"); }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    emit("ADMIN_OUT " + peer::field(m.getHeader(), 35) + " " + peer::field(m.getHeader(), 34));
  }
  void toApp(FIX::Message& m, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    emit("SENT " + peer::field(m.getHeader(), 35) + " " + peer::field(m.getHeader(), 34));
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    emit("ADMIN_IN " + peer::field(m.getHeader(), 35) + " " + peer::field(m.getHeader(), 34) + " " +
         peer::field(m.getHeader(), 43));
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID& s)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::UnsupportedMessageType) override {
    std::string type = m.getHeader().getField(35);
    if (type != "V") throw FIX::UnsupportedMessageType();
    std::string id = m.getField(262);
    std::string sym = "-";
    if (m.groupCount(146) > 0) {
      FIX::Group related(146, 55);
      m.getGroup(1, related);
      sym = peer::field(related, 55);
    }
    emit("MDREQ " + id + " " + sym + " " + peer::field(m, 264) + " " + peer::field(m, 265) + " " +
         peer::field(m, 263));
    if (m.getField(263) == "2") return;
    if (sym != symbol) {
      FIX::Message y;
      y.getHeader().setField(FIX::StringField(35, "Y"));
      y.setField(FIX::StringField(262, id));
      y.setField(FIX::StringField(281, "0"));
      y.setField(FIX::StringField(58, "unknown symbol " + sym));
      FIX::Session::sendToTarget(y, s);
      return;
    }
    std::lock_guard<std::mutex> l(mu);
    req_id = id;
    FIX::Message w;
    w.getHeader().setField(FIX::StringField(35, "W"));
    w.setField(FIX::StringField(262, id));
    w.setField(FIX::StringField(55, symbol));
    for (auto it = bids.rbegin(); it != bids.rend(); ++it) add_entry(w, "0", it->first, it->second);
    for (auto& kv : asks) add_entry(w, "1", kv.first, kv.second);
    FIX::Session::sendToTarget(w, s);
  }

  static void add_entry(FIX::Message& w, const std::string& side, const std::string& px, const std::string& sz) {
    FIX::Group g(268, 269);
    g.setField(FIX::StringField(269, side));
    g.setField(FIX::StringField(270, px));
    g.setField(FIX::StringField(271, sz));
    w.addGroup(g);
  }

  void incremental(const std::string& action, const std::string& side, const std::string& px, const std::string& sz) {
    FIX::Message x;
    x.getHeader().setField(FIX::StringField(35, "X"));
    x.setField(FIX::StringField(262, req_id.empty() ? "none" : req_id));
    FIX::Group g(268, 279);
    g.setField(FIX::StringField(279, action));
    g.setField(FIX::StringField(269, side));
    g.setField(FIX::StringField(55, symbol));
    g.setField(FIX::StringField(270, px));
    if (!sz.empty()) g.setField(FIX::StringField(271, sz));
    x.addGroup(g);
    FIX::Session::sendToTarget(x, sid);
  }
};

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: qf_venue SETTINGS" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    Venue app;
    FIX::FileStoreFactory store(settings);
    FIX::SocketAcceptor acceptor(app, store, settings);
    acceptor.start();
    emit("READY");
    std::string line;
    while (std::getline(std::cin, line)) {
      auto w = peer::split(line);
      if (w.empty()) continue;
      FIX::Session* s = app.have_sid ? FIX::Session::lookupSession(app.sid) : nullptr;
      if (w[0] == "quit") break;
      if (!s) {
        emit("ERR no session");
        continue;
      }
      if (w[0] == "set" && w.size() == 4) {
        std::string action;
        {
          std::lock_guard<std::mutex> l(app.mu);
          auto& book = w[1] == "0" ? app.bids : app.asks;
          action = book.count(w[2]) ? "1" : "0";
          book[w[2]] = w[3];
        }
        app.incremental(action, w[1], w[2], w[3]);
      } else if (w[0] == "del" && w.size() == 3) {
        {
          std::lock_guard<std::mutex> l(app.mu);
          (w[1] == "0" ? app.bids : app.asks).erase(w[2]);
        }
        app.incremental("2", w[1], w[2], "");
      } else if (w[0] == "gap" && w.size() == 2) {
        s->setNextSenderMsgSeqNum(s->getExpectedSenderNum() + std::stoi(w[1]));
        emit("GAP");
      } else if (w[0] == "logout") {
        s->logout("venue says bye");  // also disables the session: logons are refused until "enable"
      } else if (w[0] == "enable") {
        s->logon();
        emit("ENABLED");
      } else if (w[0] == "seq") {
        emit("SEQ " + std::to_string(s->getExpectedSenderNum()) + " " + std::to_string(s->getExpectedTargetNum()));
      } else {
        emit("ERR unknown command " + line);
      }
    }
    acceptor.stop();
  } catch (std::exception& e) {
    emit(std::string("ERR ") + e.what());
    return 1;
  }
  return 0;
}
