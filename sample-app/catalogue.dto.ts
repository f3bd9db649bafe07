import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** A product of the catalogue. */
export class Product {
  @ApiProperty({ example: 1 })
  id!: number;

  @ApiProperty({ example: 'Teapot' })
  name!: string;

  @ApiProperty({ example: 18, description: 'Price in euros.' })
  price!: number;

  @ApiProperty({ example: 'editor', description: 'Name of the API key that created it (`seed` for the first two).' })
  createdBy!: string;
}

/** The body of `POST /products`. */
export class CreateProduct {
  @ApiPropertyOptional({ example: 'Mug', description: 'Defaults to `unnamed`.' })
  name?: string;

  @ApiPropertyOptional({ example: 4, description: 'Price in euros; defaults to 0.' })
  price?: number;
}
