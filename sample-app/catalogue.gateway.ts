import { UseGuards } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { ApiKey, ApiKeyGuard, RequireScopes } from 'nestjs-api-key';
import { Catalogue } from './catalogue.js';
import type { Product } from './catalogue.dto.js';

/**
 * The catalogue over socket.io, in the `/catalogue` namespace. `ApiKeyGuard` checks every message
 * against the key of the connection's handshake (`auth.apiKey` or the X-API-Key header); a refusal
 * comes back as an `exception` event with the HTTP codes. The guard is named here because the
 * sample's global `APP_GUARD` did not reach this gateway's messages on NestJS 11 (it does on
 * NestJS 12, where the second pass reuses the first one's principal: one verification a message).
 */
@UseGuards(ApiKeyGuard)
@WebSocketGateway({ namespace: 'catalogue' })
export class CatalogueGateway {
  constructor(private readonly catalogue: Catalogue) {}

  /** `products` → `products` with the list, for keys with `catalogue:read`. */
  @SubscribeMessage('products')
  @RequireScopes('catalogue:read')
  products(@ApiKey('name') caller: string): { event: 'products'; data: { caller: string; products: Product[] } } {
    return { event: 'products', data: { caller, products: this.catalogue.list() } };
  }
}
