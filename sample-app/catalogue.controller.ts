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
import { Catalogue } from './catalogue.js';
import { CreateProduct, Product } from './catalogue.dto.js';

/** Public reads, scoped writes. The guard is global (see AppModule), so `@Public()` opens reads. */
@Controller('products')
export class CatalogueController {
  constructor(private readonly catalogue: Catalogue) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'List the products', description: 'Public: no key needed.' })
  @ApiOkResponse({ type: [Product] })
  list(): Product[] {
    return this.catalogue.list();
  }

  @Get(':id')
  @Public()
  @ApiOperation({ summary: 'Read one product', description: 'Public: no key needed.' })
  @ApiParam({ name: 'id', description: 'The product id.', example: '1' })
  @ApiOkResponse({ type: Product })
  @ApiNotFoundResponse({ description: 'No product with this id.' })
  get(@Param('id') id: string): Product {
    const product = this.catalogue.get(Number(id));
    if (!product) throw new NotFoundException(`No product ${Number(id)}`);
    return product;
  }

  @Post()
  @RequireScopes('catalogue:write')
  @RateLimitCost(5) // a write costs five reads
  @ApiOperation({ summary: 'Add a product', description: 'Counts as five requests against the key’s rate limit.' })
  @ApiCreatedResponse({ type: Product })
  create(@Body() body: CreateProduct, @ApiKey() key: ApiKeyPrincipal): Product {
    return this.catalogue.add({
      name: String(body?.name ?? 'unnamed'),
      price: Number(body?.price ?? 0),
      createdBy: key.name,
    });
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('catalogue:delete')
  @ApiOperation({ summary: 'Delete a product', description: 'Answers 204 whether or not the product existed.' })
  @ApiParam({ name: 'id', description: 'The product id.', example: '3' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  remove(@Param('id') id: string): void {
    this.catalogue.remove(Number(id));
  }
}
