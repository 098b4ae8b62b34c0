// Preloaded into a child process (node --import) by tests that must show it stays off the
// network: every socket connection and every fetch is reported on stderr as it starts.
import net from 'node:net';

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  process.stderr.write(`NETWORK connect ${JSON.stringify(args[0] ?? null)}\n`);
  return connect.apply(this, args);
};
const fetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  process.stderr.write(`NETWORK fetch ${String(input instanceof Request ? input.url : input)}\n`);
  return fetch(input, init);
};
