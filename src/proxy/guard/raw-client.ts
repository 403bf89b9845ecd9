import { connect, type Socket } from 'node:net';

/** What a raw exchange saw: all bytes the server sent until it closed the connection. */
export interface RawReply {
  text: string;
  /** The status code of the first response, 0 if none. */
  status: number;
}

/**
 * For tests: opens a TCP connection to 127.0.0.1:`port` (from `localAddress` if
 * given), writes `bytes` exactly as given (no HTTP client to tidy them up) and
 * resolves with everything received once the server closes the connection.
 */
export function rawExchange(port: number, bytes: string | Buffer, localAddress?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the answer arrived still counts as "closed by the server".
      if (err.code !== 'ECONNRESET' || chunks.length === 0) reject(err);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) });
    });
    socket.write(bytes);
  });
}

/** For tests: a connection that has sent `bytes` and then goes quiet; `closed` settles when the server hangs up. */
export function slowClient(port: number, bytes: string): { socket: Socket; closed: Promise<string> } {
  const socket = connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1'))));
  socket.write(bytes);
  return { socket, closed };
}
