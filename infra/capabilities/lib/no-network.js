'use strict';
// Preloaded by scripts/check-capabilities (node --require): the check runs
// offline, so any attempt to open a connection or resolve a name is a bug
// (an evaluator that fetched data at run time) and ends the run.
const net = require('net');
const dns = require('dns');

function refuse(what) {
  return () => {
    throw new Error(`capability check: network access attempted (${what}); the check must run offline`);
  };
}
net.Socket.prototype.connect = refuse('net.Socket.connect');
net.connect = refuse('net.connect');
net.createConnection = refuse('net.createConnection');
dns.lookup = refuse('dns.lookup');
dns.resolve = refuse('dns.resolve');
if (dns.promises) {
  dns.promises.lookup = refuse('dns.promises.lookup');
  dns.promises.resolve = refuse('dns.promises.resolve');
}
globalThis.fetch = refuse('fetch');
