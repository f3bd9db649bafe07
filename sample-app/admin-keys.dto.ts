import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** A stored key as an admin sees it: public id and state, never a secret or a hash. */
export class ApiKeyView {
  @ApiProperty({ example: 'k7Hq2xPz' })
  id!: string;

  @ApiProperty({ example: 'billing-service' })
  name!: string;

  @ApiProperty({ type: [String], example: ['catalogue:read'] })
  scopes!: readonly string[];

  @ApiProperty({ type: String, nullable: true, example: 'demo-ops' })
  ownerId!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { plan: 'pro' } })
  metadata!: Readonly<Record<string, unknown>>;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: Date | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt!: Date | null;

  @ApiProperty({ example: false })
  disabled!: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt!: Date | null;
}

/** The body of `POST /admin/keys`. */
export class CreateKey {
  @ApiProperty({ example: 'billing-service' })
  name!: string;

  @ApiPropertyOptional({ type: [String], example: ['catalogue:read'], description: 'Defaults to none.' })
  scopes?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { plan: 'pro' } })
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2030-01-01T00:00:00.000Z',
    description: 'When the key stops working; never when absent or null.',
  })
  expiresAt?: string | null;
}

/** The body of `POST /admin/keys/{id}/rotate`. */
export class RotateKey {
  @ApiPropertyOptional({
    example: 3600,
    description: 'How long the previous secret keeps working, in seconds; 0 (the default) ends it at once.',
  })
  gracePeriodSeconds?: number;
}

/** A new key: the plaintext is in this answer only, never again. */
export class CreatedKey {
  @ApiProperty({ example: 'sample_live_k7Hq2xPz_…', description: 'The plaintext key. Shown once: store it now.' })
  key!: string;

  @ApiProperty({ type: ApiKeyView })
  apiKey!: ApiKeyView;
}

/** A rotated key: the new plaintext, and until when the previous secrets keep working. */
export class RotatedKey extends CreatedKey {
  @ApiProperty({ type: String, format: 'date-time' })
  previousSecretsExpireAt!: Date;
}

/** What `POST /admin/keys/by-owner/{ownerId}/revoke` revoked. */
export class RevokedOwnerKeys {
  @ApiProperty({ example: 'demo-ops' })
  ownerId!: string;

  @ApiProperty({ type: [String], example: ['k7Hq2xPz'], description: 'The ids revoked now, in id order.' })
  revoked!: string[];
}
