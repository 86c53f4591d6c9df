import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that a test stops (every connection cut, new ones refused)
 * and starts again on the same port: the database as a store sees it go away and come back.
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  /** How long a new connection waits before the proxy connects it through: a server slow to let clients in. */
  openDelayMs = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get port(): number {
    return this.#port;
  }

  /** Listens (on the port it had, after a stop; on a free one the first time). */
  async start(): Promise<void> {
    const server = createServer((client) => {
      this.#track(client);
      client.on('error', () => client.destroy());
      const connect = () => {
        if (client.destroyed) return;
        const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
        this.#track(upstream);
        for (const socket of [client, upstream]) {
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      };
      if (this.openDelayMs > 0) setTimeout(connect, this.openDelayMs);
      else connect();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
