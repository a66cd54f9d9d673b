// A QuickFIX/C++ initiator playing a legacy customer of dragonfly's FIX server.
//
// usage: qf_customer SETTINGS_FILE [PASSWORD]
// stdout (one event per line): READY, LOGON, LOGOUT, ADMIN_IN <35> <34> <43> [58], ADMIN_OUT <35> <34>,
//   APP <raw message with | for SOH>, SEQ <next sender> <next target>, ERR <text>
// stdin commands:
//   sub <reqid> <symbol> <depth> <265> [266]   MarketDataRequest 263=1 (266 AggregatedBook Y/N, absent if not given)
//   snap <reqid> <symbol> <depth> [266]        MarketDataRequest 263=0
//   unsub <reqid> <symbol>                     MarketDataRequest 263=2
//   many <reqid> <symbol> <n>                  MarketDataRequest 263=1 listing <symbol> n times in NoRelatedSym
//   gap <n>                              skip n outgoing MsgSeqNum (the server must ResendRequest)
//   logout (QuickFIX then stays logged out until "enable") | enable | seq | quit
#include <string>

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include "common.h"

using peer::emit;

using peer::md_request;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: qf_customer SETTINGS [PASSWORD]" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    peer::Initiator app;
    if (argc > 2) app.password = argv[2];
    FIX::FileStoreFactory store(settings);
    FIX::SocketInitiator initiator(app, store, settings);
    initiator.start();
    emit("READY");
    std::string line;
    while (std::getline(std::cin, line)) {
      auto w = peer::split(line);
      if (w.empty()) continue;
      if (w[0] == "quit") break;
      FIX::Session* s = app.have_sid ? FIX::Session::lookupSession(app.sid) : nullptr;
      if (!s) {
        emit("ERR no session");
        continue;
      }
      if (w[0] == "sub" && (w.size() == 5 || w.size() == 6)) {
        md_request(app.sid, "1", w[1], w[2], w[3], w[4], w.size() == 6 ? w[5] : "");
      } else if (w[0] == "snap" && (w.size() == 4 || w.size() == 5)) {
        md_request(app.sid, "0", w[1], w[2], w[3], "", w.size() == 5 ? w[4] : "");
      } else if (w[0] == "many" && w.size() == 4) {
        md_request(app.sid, "1", w[1], w[2], "10", "1", "", std::stoi(w[3]));
        emit("SENT_MANY");
      } else if (w[0] == "unsub" && w.size() == 3) {
        md_request(app.sid, "2", w[1], w[2], "0", "");
      } else if (w[0] == "gap" && w.size() == 2) {
        s->setNextSenderMsgSeqNum(s->getExpectedSenderNum() + std::stoi(w[1]));
        emit("GAP");
      } else if (w[0] == "logout") {
        s->logout("customer says bye");  // also disables the session until "enable"
      } else if (w[0] == "enable") {
        s->logon();
        emit("ENABLED");
      } else if (w[0] == "seq") {
        emit("SEQ " + std::to_string(s->getExpectedSenderNum()) + " " + std::to_string(s->getExpectedTargetNum()));
      } else {
        emit("ERR unknown command " + line);
      }
    }
    initiator.stop();
  } catch (std::exception& e) {
    emit(std::string("ERR ") + e.what());
    return 1;
  }
  return 0;
}
