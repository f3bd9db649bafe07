import { Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import { ApiKey, Public, RequireScopes, type ApiKeyPrincipal } from 'nestjs-api-key';
import { RateLimitCost } from 'nestjs-api-key/rate-limit';

interface Product {
  id: number;
  name: string;
  price: number;
  createdBy: string;
}

/** Public reads, scoped writes. The guard is global (see AppModule), so `@Public()` opens reads. */
@Controller('products')
export class CatalogueController {
  private readonly products = new Map<number, Product>([
    [1, { id: 1, name: 'Teapot', price: 18, createdBy: 'seed' }],
    [2, { id: 2, name: 'Kettle', price: 35, createdBy: 'seed' }],
  ]);
  private nextId = 3;

  @Get()
  @Public()
  list(): Product[] {
    return [...this.products.values()];
  }

  @Get(':id')
  @Public()
  get(@Param('id') id: string): Product {
    const product = this.products.get(Number(id));
    if (!product) throw new NotFoundException(`No product ${Number(id)}`);
    return product;
  }

  @Post()
  @RequireScopes('catalogue:write')
  @RateLimitCost(5) // a write costs five reads
  create(@Body() body: { name?: unknown; price?: unknown }, @ApiKey() key: ApiKeyPrincipal): Product {
    const product = {
      id: this.nextId++,
      name: String(body?.name ?? 'unnamed'),
      price: Number(body?.price ?? 0),
      createdBy: key.name,
    };
    this.products.set(product.id, product);
    return product;
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('catalogue:delete')
  remove(@Param('id') id: string): void {
    this.products.delete(Number(id));
  }
}
