// Preloaded (node --import) into a program under test that serves HTTP: whatever port it asks for, its servers listen
// on a free loopback port, and the parent test process is told which (an IPC message { listening: port }).
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnFreePort(...args) {
  this.once('listening', () => {
    const address = this.address();
    if (address && typeof address === 'object') process.send?.({ listening: address.port });
  });
  if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    args.splice(0, typeof args[1] === 'string' ? 2 : 1, 0, '127.0.0.1');
    args.unshift(0);
  } else if (args[0] && typeof args[0] === 'object') {
    args[0] = { ...args[0], port: 0, host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
