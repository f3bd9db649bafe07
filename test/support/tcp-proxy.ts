import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 to one server, with the link faults a test causes on demand. */
export interface TcpProxy {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** How many connections it has refused (while cut or refusing) since it started. */
  readonly refused: number;
  /** Destroys every open connection and refuses new ones (closed as soon as accepted) until {@link restore}. */
  cut(): void;
  /** Refuses new connections until {@link restore}; open ones keep forwarding. */
  refuse(): void;
  /**
   * Stops forwarding on every connection, open and new, until {@link restore}: requests hang as on
   * a stalled link. Nothing is lost: what was held flows on restore.
   */
  stall(): void;
  /** Accepts and forwards again. */
  restore(): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Starts a {@link TcpProxy} forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'refuse' | 'cut' | 'stall' = 'forward';
  let refused = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (mode === 'stall') socket.pause();
  };
  const server = createServer((client) => {
    if (mode === 'cut' || mode === 'refuse') {
      refused++;
      client.on('error', () => undefined);
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    track(client);
    track(upstream);
    // 'data' handlers rather than pipe(): a paused socket stays paused until restore().
    client.on('data', (data) => upstream.write(data));
    upstream.on('data', (data) => client.write(data));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const destroyAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get refused() {
      return refused;
    },
    cut: () => {
      mode = 'cut';
      destroyAll();
    },
    refuse: () => {
      mode = 'refuse';
    },
    stall: () => {
      mode = 'stall';
      for (const socket of sockets) socket.pause();
    },
    restore: () => {
      mode = 'forward';
      for (const socket of sockets) socket.resume();
    },
    close: async () => {
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
