import { UseGuards } from '@nestjs/common';
import { OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { ApiKey, ApiKeyGuard, ApiKeyWebSockets, RequireScopes } from 'nestjs-api-key';
import { Catalogue } from './catalogue.js';
import type { Product } from './catalogue.dto.js';

/**
 * The catalogue over socket.io, in the `/catalogue` namespace. `ApiKeyWebSockets` verifies the key
 * of each connection's handshake (`auth.apiKey` or the X-API-Key header) before it connects: a
 * refusal reaches the client as `connect_error` with the HTTP codes in its `data`, and a key
 * revoked while connected has its connection closed at once. `ApiKeyGuard` then checks each
 * message's scopes, reusing the connection's principal. The guard is named here because the
 * sample's global `APP_GUARD` did not reach this gateway's messages on NestJS 11.
 */
@UseGuards(ApiKeyGuard)
@WebSocketGateway({ namespace: 'catalogue' })
export class CatalogueGateway implements OnGatewayInit {
  constructor(
    private readonly catalogue: Catalogue,
    private readonly webSockets: ApiKeyWebSockets,
  ) {}

  /** Verifies every connection's key at its handshake (`server` is the namespace). */
  afterInit(server: { use(middleware: ReturnType<ApiKeyWebSockets['socketIo']>): unknown }): void {
    server.use(this.webSockets.socketIo());
  }

  /** `products` → `products` with the list, for keys with `catalogue:read`. */
  @SubscribeMessage('products')
  @RequireScopes('catalogue:read')
  products(@ApiKey('name') caller: string): { event: 'products'; data: { caller: string; products: Product[] } } {
    return { event: 'products', data: { caller, products: this.catalogue.list() } };
  }
}
