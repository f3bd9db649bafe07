import { ApiProperty, ApiPropertyOptional, PartialType, PickType, type ApiPropertyOptions } from '@nestjs/swagger';

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

  @ApiProperty({
    type: [String],
    nullable: true,
    example: ['203.0.113.0/24', '2001:db8::/32'],
    description: 'Client networks (CIDR) the key may be used from; null: any.',
  })
  allowedNetworks?: readonly string[] | null;

  @ApiProperty({
    type: [String],
    nullable: true,
    example: ['https://app.example.com'],
    description: 'Browser origins (`Origin` header) the key may be used from; null: any.',
  })
  allowedOrigins?: readonly string[] | null;
}

/** Restrictions of a key, as the create and update bodies take them. */
const NETWORKS: ApiPropertyOptions = {
  type: [String],
  nullable: true,
  example: ['203.0.113.0/24', '2001:db8::/32'],
  description: 'Client networks (CIDR, IPv4 or IPv6) the key may be used from; null or absent: any.',
};
const ORIGINS: ApiPropertyOptions = {
  type: [String],
  nullable: true,
  example: ['https://app.example.com'],
  description: 'Browser origins the key may be used from (compared with the `Origin` header); null or absent: any.',
};
const EXPIRES_AT: ApiPropertyOptions = {
  type: String,
  format: 'date-time',
  nullable: true,
  example: '2030-01-01T00:00:00.000Z',
  description:
    'When the key stops working: at most the lifetime policy’s maximum from now (`GET /admin/keys/lifetime`); ' +
    'absent: its default lifetime; null: never (refused while the policy has a maximum).',
};

/** The body of `POST /admin/keys`. */
export class CreateKey {
  @ApiProperty({ example: 'billing-service' })
  name!: string;

  @ApiPropertyOptional({ type: [String], example: ['catalogue:read'], description: 'Defaults to none.' })
  scopes?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { plan: 'pro' } })
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional(EXPIRES_AT)
  expiresAt?: string | null;

  @ApiPropertyOptional(NETWORKS)
  allowedNetworks?: string[] | null;

  @ApiPropertyOptional(ORIGINS)
  allowedOrigins?: string[] | null;
}

/** The body of `PATCH /admin/keys/{id}`: absent fields are kept (`scopes` replaces every scope). */
export class UpdateKey extends PartialType(
  PickType(CreateKey, ['name', 'scopes', 'expiresAt', 'allowedNetworks', 'allowedOrigins'] as const),
) {}

/** The lifetime policy keys are created and rotated under. */
export class KeyLifetimePolicy {
  @ApiProperty({ type: 'integer', nullable: true, example: 31_622_400_000, description: 'Longest lifetime, in ms.' })
  maxMs!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, example: 7_776_000_000, description: 'Default lifetime, in ms.' })
  defaultMs!: number | null;
}

/** The body of `POST /admin/keys/{id}/rotate`. */
export class RotateKey {
  @ApiPropertyOptional({
    example: 3600,
    description: 'How long the previous secret keeps working, in seconds; 0 (the default) ends it at once.',
  })
  gracePeriodSeconds?: number;

  @ApiPropertyOptional({
    ...EXPIRES_AT,
    description: 'The key’s new expiry; absent: renewed to the lifetime policy’s default from now.',
  })
  expiresAt?: string | null;
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
