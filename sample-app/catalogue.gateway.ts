import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { ApiKey, RequireScopes } from 'nestjs-api-key';
import { Catalogue } from './catalogue.js';
import type { Product } from './catalogue.dto.js';

/**
 * The catalogue over socket.io, in the `/catalogue` namespace. The global `ApiKeyGuard` (see
 * AppModule) checks every message against the key of the connection's handshake (`auth.apiKey`
 * or the X-API-Key header); a refusal comes back as an `exception` event with the HTTP codes.
 */
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
