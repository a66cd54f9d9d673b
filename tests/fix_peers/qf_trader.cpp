// A QuickFIX/C++ initiator playing a legacy customer of dragonfly's FIX order entry (FixOrderServer, or the
// market-data FixServer built with an execution engine: one session for the book and the orders).
//
// usage: qf_trader SETTINGS_FILE [PASSWORD]
// stdout (one event per line): READY, LOGON, LOGOUT, ADMIN_IN <35> <34> <43> [58], ADMIN_OUT <35> <34>,
//   APP <raw message with | for SOH>, ERR <text>
// stdin commands:
//   order <clordid> <symbol> <side 1|2> <qty> <ordtype 1|2> <price or -> <tif 0|3>   NewOrderSingle (35=D)
//   cancel <clordid> <origclordid> <symbol> <side> <qty>                             OrderCancelRequest (35=F)
//   sub <reqid> <symbol> <depth> <265> [266]     MarketDataRequest 263=1 (266 AggregatedBook Y/N, absent if not given)
//   quit
#include <string>

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/FieldTypes.h>
#include <quickfix/Field.h>

#include "common.h"

using peer::emit;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: qf_trader SETTINGS [PASSWORD]" << std::endl;
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
      if (!app.have_sid) {
        emit("ERR no session");
        continue;
      }
      if (w[0] == "order" && w.size() == 8) {
        FIX::Message d;
        d.getHeader().setField(FIX::StringField(35, "D"));
        d.setField(FIX::StringField(11, w[1]));
        d.setField(FIX::StringField(55, w[2]));
        d.setField(FIX::StringField(54, w[3]));
        d.setField(FIX::UtcTimeStampField(60, FIX::UtcTimeStamp()));
        d.setField(FIX::StringField(38, w[4]));
        d.setField(FIX::StringField(40, w[5]));
        if (w[6] != "-") d.setField(FIX::StringField(44, w[6]));
        d.setField(FIX::StringField(59, w[7]));
        FIX::Session::sendToTarget(d, app.sid);
        emit("SENT D " + w[1]);
      } else if (w[0] == "sub" && (w.size() == 5 || w.size() == 6)) {
        peer::md_request(app.sid, "1", w[1], w[2], w[3], w[4], w.size() == 6 ? w[5] : "");
        emit("SENT V " + w[1]);
      } else if (w[0] == "cancel" && w.size() == 6) {
        FIX::Message f;
        f.getHeader().setField(FIX::StringField(35, "F"));
        f.setField(FIX::StringField(41, w[2]));
        f.setField(FIX::StringField(11, w[1]));
        f.setField(FIX::StringField(55, w[3]));
        f.setField(FIX::StringField(54, w[4]));
        f.setField(FIX::UtcTimeStampField(60, FIX::UtcTimeStamp()));
        f.setField(FIX::StringField(38, w[5]));
        FIX::Session::sendToTarget(f, app.sid);
        emit("SENT F " + w[1]);
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
