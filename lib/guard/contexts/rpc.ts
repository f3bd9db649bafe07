import type { ExecutionContext } from '@nestjs/common';
import type { ApiKeySourceSettings } from '../api-key.credentials.js';
import { carriedStrings, messageRequestOf, type MessageRequest } from './message-request.js';

/** Reads the values of one header (lower-case name) from a transport's metadata. */
type HeaderReader = (name: string) => string[];

/** gRPC's `Metadata` (`@grpc/grpc-js`), as far as the guard reads it. */
interface GrpcMetadata {
  get(key: string): (string | Buffer)[];
  getMap(): unknown;
  set(key: string, value: string): void;
}

/**
 * The request the guard reads for one RPC message: the configured header and `authorization`
 * from the transport's metadata — NATS message headers, RabbitMQ message headers
 * (`properties.headers`), gRPC metadata, MQTT 5 user properties. Other transports (TCP, Redis,
 * MQTT 3.1.1) carry no headers: their messages present no key.
 */
export function rpcRequest(context: ExecutionContext, sources: ApiKeySourceSettings): MessageRequest {
  // The transport context (NatsContext, RmqContext, gRPC Metadata): one per message, and the
  // parameter decorators see it too (they get a copy of the argument list, not the list).
  const transport: unknown = context.getArgByIndex(1);
  const key = typeof transport === 'object' && transport !== null ? transport : context.getArgs();
  return messageRequestOf(key, () => {
    const read = headerReaderOf(transport);
    const headers: MessageRequest['headers'] = {};
    if (!read) return { headers };
    for (const name of [sources.header?.toLowerCase(), sources.bearer ? 'authorization' : undefined]) {
      const values = name ? read(name) : [];
      // An array: every value is a credential of its own, as a repeated HTTP header.
      if (name && values.length > 0) headers[name] = values;
    }
    return { headers };
  });
}

function headerReaderOf(transport: unknown): HeaderReader | undefined {
  const context = transport as {
    getHeaders?: () => unknown;
    getMessage?: () => { properties?: { headers?: unknown } } | undefined;
    getPacket?: () => { properties?: { userProperties?: unknown } } | undefined;
  };
  if (isGrpcMetadata(transport)) return (name) => transport.get(name).filter((value) => typeof value === 'string');
  if (typeof context?.getHeaders === 'function') return natsReader(context.getHeaders());
  if (typeof context?.getMessage === 'function') return recordReader(context.getMessage()?.properties?.headers);
  if (typeof context?.getPacket === 'function') return recordReader(context.getPacket()?.properties?.userProperties);
  return undefined;
}

function isGrpcMetadata(value: unknown): value is GrpcMetadata {
  const metadata = value as Partial<GrpcMetadata> | undefined;
  return typeof metadata?.getMap === 'function' && typeof metadata.get === 'function';
}

/** NATS headers (`MsgHdrs`): names compared without case, as HTTP does. */
function natsReader(headers: unknown): HeaderReader | undefined {
  const hdrs = headers as { keys?: () => string[]; values?: (key: string) => string[] } | undefined;
  if (typeof hdrs?.keys !== 'function' || typeof hdrs.values !== 'function') return undefined;
  return (name) => hdrs.keys!().flatMap((key) => (key.toLowerCase() === name ? hdrs.values!(key) : []));
}

/**
 * RabbitMQ (AMQP) headers and MQTT 5 user properties: a record whose value is a string, or (a
 * name MQTT repeats) an array of them; only strings can be keys.
 */
function recordReader(headers: unknown): HeaderReader | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  return (name) =>
    Object.entries(headers).flatMap(([key, value]: [string, unknown]) =>
      key.toLowerCase() === name ? carriedStrings(value) : [],
    );
}

type RpcExceptionClass = new (error: string | object) => Error;
let rpcException: Promise<RpcExceptionClass> | undefined;

/** gRPC status codes (`@grpc/grpc-js` `status`) for the guard's HTTP statuses. */
const GRPC_STATUS: Readonly<Record<number, number>> = { 400: 3, 401: 16, 403: 7, 429: 8, 503: 14 };

/**
 * The guard's refusal as an `RpcException`. Over NATS, RabbitMQ and other transports its error
 * is the HTTP error body (`code` is our stable code), which the client receives as the error.
 * Over gRPC it is a status (`UNAUTHENTICATED`, `PERMISSION_DENIED`, `INVALID_ARGUMENT`,
 * `UNAVAILABLE`, `RESOURCE_EXHAUSTED`) whose details are the body's message, with our stable
 * code in the `api-key-error-code` trailing metadata (gRPC's own `code` is the status number).
 */
export async function rpcRefusal(
  error: unknown,
  context: ExecutionContext,
  body: object | undefined,
): Promise<unknown> {
  if (!body) return error;
  // Loaded here, not imported: the guard's module must load in apps without @nestjs/microservices.
  rpcException ??= import('@nestjs/microservices').then((module) => module.RpcException as RpcExceptionClass);
  const RpcException = await rpcException;
  const metadata = context.getArgByIndex(1);
  if (!isGrpcMetadata(metadata)) return new RpcException(body);
  const { statusCode, code, message } = body as { statusCode: number; code?: string; message?: string };
  const trailers = new (metadata.constructor as new () => GrpcMetadata)();
  if (code) trailers.set('api-key-error-code', code);
  return new RpcException({ code: GRPC_STATUS[statusCode] ?? 2, details: message, metadata: trailers });
}
