import { Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
} from '@nestjs/swagger';
import { ApiKey, Public, RequireScopes, type ApiKeyPrincipal } from 'nestjs-api-key';
import { RateLimitCost } from 'nestjs-api-key/rate-limit';
import { CreateProduct, Product } from './catalogue.dto.js';

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
  @ApiOperation({ summary: 'List the products', description: 'Public: no key needed.' })
  @ApiOkResponse({ type: [Product] })
  list(): Product[] {
    return [...this.products.values()];
  }

  @Get(':id')
  @Public()
  @ApiOperation({ summary: 'Read one product', description: 'Public: no key needed.' })
  @ApiParam({ name: 'id', description: 'The product id.', example: '1' })
  @ApiOkResponse({ type: Product })
  @ApiNotFoundResponse({ description: 'No product with this id.' })
  get(@Param('id') id: string): Product {
    const product = this.products.get(Number(id));
    if (!product) throw new NotFoundException(`No product ${Number(id)}`);
    return product;
  }

  @Post()
  @RequireScopes('catalogue:write')
  @RateLimitCost(5) // a write costs five reads
  @ApiOperation({ summary: 'Add a product', description: 'Counts as five requests against the key’s rate limit.' })
  @ApiCreatedResponse({ type: Product })
  create(@Body() body: CreateProduct, @ApiKey() key: ApiKeyPrincipal): Product {
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
  @ApiOperation({ summary: 'Delete a product', description: 'Answers 204 whether or not the product existed.' })
  @ApiParam({ name: 'id', description: 'The product id.', example: '3' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  remove(@Param('id') id: string): void {
    this.products.delete(Number(id));
  }
}
