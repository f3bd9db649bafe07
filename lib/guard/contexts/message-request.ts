import type { RawHttpRequest } from '../api-key.credentials.js';

/**
 * What the guard reads a key from and puts the principal on for one WebSocket message or one
 * RPC message: the headers the transport carried, as an HTTP request would hold them.
 */
export interface MessageRequest extends RawHttpRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  /** The client's address where the transport tells it (a WebSocket's peer), for per-address limits. */
  readonly ip?: string;
}

/**
 * The message request of each message, by an object that is the message's own: the argument list
 * the guards of one WebSocket message share, the transport context of an RPC message. A second
 * guard pass over the message finds what the first attached; the next message starts afresh.
 */
const requests = new WeakMap<object, MessageRequest>();

/** The message request of the message `key` stands for, built by `build` on the first guard pass over it. */
export function messageRequestOf(key: object, build: () => MessageRequest): MessageRequest {
  let request = requests.get(key);
  if (!request) requests.set(key, (request = build()));
  return request;
}

/** The message request the guard read for the message `key` stands for, if any. */
export function existingMessageRequest(key: unknown): MessageRequest | undefined {
  return typeof key === 'object' && key !== null ? requests.get(key) : undefined;
}

/**
 * The credential values a carried field holds: the string, or each string of an array (a name
 * repeated, as a header sent twice); anything else holds none. For fields a transport or a client
 * payload carries (AMQP headers, MQTT user properties, socket.io's `auth`, a graphql-ws payload).
 */
export function carriedStrings(value: unknown): string[] {
  return [value].flat().filter((each): each is string => typeof each === 'string');
}
