import { Injectable } from '@nestjs/common';
import type { Product } from './catalogue.dto.js';

/** The products, in memory: shared by the HTTP controller and the WebSocket gateway. */
@Injectable()
export class Catalogue {
  private readonly products = new Map<number, Product>([
    [1, { id: 1, name: 'Teapot', price: 18, createdBy: 'seed' }],
    [2, { id: 2, name: 'Kettle', price: 35, createdBy: 'seed' }],
  ]);
  private nextId = 3;

  list(): Product[] {
    return [...this.products.values()];
  }

  get(id: number): Product | undefined {
    return this.products.get(id);
  }

  add(product: Omit<Product, 'id'>): Product {
    const added = { id: this.nextId++, ...product };
    this.products.set(added.id, added);
    return added;
  }

  remove(id: number): void {
    this.products.delete(id);
  }
}
