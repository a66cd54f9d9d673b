#!/usr/bin/env node
// A client in another language, for the end-to-end tests: it loads proto/*.proto
// at run time (no generated code), reads --count updates from
// orderbook.OrderbookAggregator/BookSummary, then --count from
// dragonfly.v1.Aggregator/StreamBook, and prints each as one JSON line.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const args = { address: '127.0.0.1:50051', count: 5, protoDir: path.resolve(__dirname, '../../../proto'), token: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    if (key === '--address') args.address = value;
    else if (key === '--count') args.count = parseInt(value, 10);
    else if (key === '--proto-dir') args.protoDir = value;
    else if (key === '--token') args.token = value;
    else throw new Error(`unknown option ${key}`);
  }
  if (!(args.count > 0)) throw new Error('--count must be a positive integer');
  return args;
}

function take(call, count, format) {
  return new Promise((resolve, reject) => {
    let n = 0;
    let done = false;
    call.on('data', (msg) => {
      if (done) return;
      process.stdout.write(JSON.stringify(format(msg)) + '\n');
      n += 1;
      if (n >= count) {
        done = true;
        call.cancel();
        resolve(n);
      }
    });
    call.on('error', (err) => {
      if (done && err.code === grpc.status.CANCELLED) return;
      reject(err);
    });
    call.on('end', () => {
      if (!done) reject(new Error(`stream ended after ${n} messages`));
    });
  });
}

const level = (lv) => ({ exchange: lv.exchange, price: lv.price, amount: lv.amount });

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const definition = protoLoader.loadSync(['orderbook.proto', 'dragonfly/v1/aggregator.proto'], {
    includeDirs: [args.protoDir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const proto = grpc.loadPackageDefinition(definition);
  const creds = grpc.credentials.createInsecure();
  const metadata = new grpc.Metadata();
  if (args.token) metadata.add('authorization', `Bearer ${args.token}`);

  const legacy = new proto.orderbook.OrderbookAggregator(args.address, creds);
  await take(legacy.BookSummary({}, metadata), args.count, (m) => ({
    service: 'orderbook',
    spread: m.spread,
    bids: m.bids.map(level),
    asks: m.asks.map(level),
  }));
  legacy.close();

  const ext = new proto.dragonfly.v1.Aggregator(args.address, creds);
  await take(ext.StreamBook({ instrument: '', depth: 0, venues: [] }, metadata), args.count, (m) => ({
    service: 'dragonfly.v1',
    instrument: m.instrument,
    seq: m.seq,
    spread: m.spread,
    bids: m.bids.map(level),
    asks: m.asks.map(level),
    venues: m.venues.map((h) => ({ venue: h.venue, status: h.status })),
    receive_ts_ns: m.receive_ts_ns,
  }));
  ext.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`node client: ${err.message || err}\n`);
    process.exit(1);
  },
);
