// bench_grpc.py's Node client: one server-streaming call read with @grpc/grpc-js (installed by
// `npm ci --prefix tests/e2e/node_client`), messages kept as raw bytes with their receive time.
//
// node benchmarks/grpc_node_client.js ADDRESS METHOD SECONDS OUT
//
// Writes OUT: one line per message, "<CLOCK_MONOTONIC ns at receipt>\t<message base64>"; the caller maps
// the monotonic clock (process.hrtime, the same clock as Python's time.monotonic_ns) to wall-clock time.
"use strict";
const path = require("path");
const fs = require("fs");
const grpc = require(path.join(__dirname, "..", "tests", "e2e", "node_client", "node_modules", "@grpc", "grpc-js"));

const [address, method, seconds, out] = process.argv.slice(2);
const client = new grpc.Client(address, grpc.credentials.createInsecure());
const identity = (b) => b;
const times = [];
const messages = [];
const call = client.makeServerStreamRequest(method, identity, identity, Buffer.alloc(0));
call.on("data", (buf) => {
  times.push(process.hrtime.bigint());
  messages.push(buf);
});
call.on("error", () => {});
setTimeout(() => {
  call.cancel();
  const lines = times.map((t, i) => `${t}\t${messages[i].toString("base64")}`);
  fs.writeFileSync(out, lines.join("\n") + "\n");
  client.close();
  process.exit(0);
}, Number(seconds) * 1000);
