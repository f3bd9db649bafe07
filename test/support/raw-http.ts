import { connect } from 'node:net';

/** A request as bytes on the wire: header values are sent as given (latin1), repeats included. */
export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** Sent with its `Content-Length` (give the `Content-Type` in `headers`). */
  readonly body?: string;
}

/** A parsed response. `head` is the raw status line and headers without the `Date` line. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly head: string;
}

/**
 * Sends one request over a fresh connection (`Connection: close`) and reads the whole response.
 * Unlike an HTTP client library it validates nothing, so repeated headers, non-ASCII bytes and
 * malformed values reach the server exactly as written.
 */
export function send(port: number, request: RawRequest): Promise<RawResponse> {
  const lines = [`${request.method ?? 'GET'} ${request.path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  if (request.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(request.body)}`);
  lines.push('Connection: close', '', request.body ?? '');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parse(Buffer.concat(chunks).toString('latin1')));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(Buffer.from(lines.join('\r\n'), 'latin1'));
  });
}

function parse(text: string): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`incomplete response: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = text.slice(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  const head = [statusLine, ...headerLines.filter((line) => !/^date:/i.test(line))].join('\r\n');
  return { status: Number(statusLine!.split(' ')[1]), headers, body, head };
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!size) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
