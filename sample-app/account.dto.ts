import { ApiProperty } from '@nestjs/swagger';

/** The caller's API key as the guard sees it (the principal): never the secret. */
export class Principal {
  @ApiProperty({ example: 'reader', description: 'The key’s public id.' })
  id!: string;

  @ApiProperty({ example: 'reader' })
  name!: string;

  @ApiProperty({ type: [String], example: ['catalogue:read'] })
  scopes!: string[];

  @ApiProperty({ type: String, nullable: true, example: 'demo-user' })
  ownerId!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { plan: 'free' } })
  metadata!: Record<string, unknown>;
}

/** `GET /admin/stats`. */
export class AdminStats {
  @ApiProperty({ example: 'admin', description: 'Name of the calling key.' })
  caller!: string;

  @ApiProperty({ example: 42 })
  uptimeSeconds!: number;
}
