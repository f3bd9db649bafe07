import type { ExecutionContext } from '@nestjs/common';

/** The request the guard reads the key from and the response it sets headers on (none over a socket). */
export interface RequestResponse {
  readonly request: object;
  readonly response: object | undefined;
}

/** The request and response of an HTTP route. */
export function httpRequestResponse(context: ExecutionContext): RequestResponse {
  const http = context.switchToHttp();
  return { request: http.getRequest<object>(), response: http.getResponse<object>() };
}
