import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
} from '@nestjs/swagger';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyLifecycleError,
  ApiKeyService,
  RequireScopes,
  ResolvedApiKeyOptions,
  type StoredApiKey,
} from 'nestjs-api-key';
import {
  ApiKeyView,
  CreatedKey,
  CreateKey,
  KeyLifetimePolicy,
  RevokedOwnerKeys,
  RotatedKey,
  RotateKey,
  UpdateKey,
} from './admin-keys.dto.js';

const KEY_ID = { name: 'id', description: 'The key’s public id.', example: 'k7Hq2xPz' };

/**
 * Key management over HTTP, for keys holding the `admin` scope: create, list, revoke and
 * rotate through `ApiKeyService`. Plaintext keys appear only in the create and rotate
 * responses; lists show public ids and state, never a secret.
 */
@Controller('admin/keys')
@UseGuards(ApiKeyGuard)
@RequireScopes('admin')
export class AdminKeysController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly options: ResolvedApiKeyOptions,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a key', description: 'The answer holds the plaintext key, this once.' })
  @ApiCreatedResponse({ type: CreatedKey })
  @ApiBadRequestResponse({ description: 'The name or scopes are not valid.' })
  @ApiConflictResponse({ description: 'The owner already holds the most active keys allowed.' })
  async create(@Body() body: CreateKey, @ApiKey('id') adminId: string): Promise<CreatedKey> {
    const { key, apiKey } = await run(() =>
      this.keys.create({
        name: body?.name as string,
        scopes: (body?.scopes ?? []) as string[],
        metadata: (body?.metadata ?? {}) as Record<string, unknown>,
        ownerId: adminId,
        expiresAt: dateOf(body?.expiresAt),
        allowedNetworks: body?.allowedNetworks,
        allowedOrigins: body?.allowedOrigins,
      }),
    );
    return { key, apiKey: view(apiKey) };
  }

  @Get('lifetime')
  @ApiOperation({
    summary: 'The key lifetime policy',
    description: 'How long keys created or rotated here live by default, and at most (`null`: no limit).',
  })
  @ApiOkResponse({ type: KeyLifetimePolicy })
  lifetime(): KeyLifetimePolicy {
    return { ...this.options.keyLifetime };
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a key',
    description: 'Name, scopes, expiry, allowed networks and origins; absent fields are kept.',
  })
  @ApiParam(KEY_ID)
  @ApiOkResponse({ type: ApiKeyView })
  @ApiBadRequestResponse({ description: 'A field is not valid (a malformed network or origin, an expiry too far).' })
  @ApiNotFoundResponse({ description: 'No key with this id.' })
  @ApiConflictResponse({ description: 'The key is revoked.' })
  async update(@Param('id') id: string, @Body() body: UpdateKey): Promise<ApiKeyView> {
    return view(
      await run(() =>
        this.keys.update(id, {
          name: body?.name,
          scopes: body?.scopes,
          expiresAt: dateOf(body?.expiresAt),
          allowedNetworks: body?.allowedNetworks,
          allowedOrigins: body?.allowedOrigins,
        }),
      ),
    );
  }

  @Get()
  @ApiOperation({ summary: 'List keys', description: 'Public ids and state, in id order; never a secret.' })
  @ApiQuery({
    name: 'after',
    required: false,
    description: 'Start after this key id (the last id of the previous page).',
  })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: 'Page size; 100 by default.' })
  @ApiQuery({ name: 'ownerId', required: false, description: 'Only the keys of this owner.' })
  @ApiOkResponse({ type: [ApiKeyView] })
  async list(
    @Query('after') after?: string,
    @Query('limit') limit?: string,
    @Query('ownerId') ownerId?: string,
  ): Promise<ApiKeyView[]> {
    const keys = await run(() => this.keys.list({ after, ownerId, limit: limit === undefined ? 100 : Number(limit) }));
    return keys.map(view);
  }

  @Post('by-owner/:ownerId/revoke')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke every key of an owner',
    description: 'One write: every key of the owner stops working at once, on every instance.',
  })
  @ApiParam({ name: 'ownerId', description: 'The owner whose keys to revoke.', example: 'demo-ops' })
  @ApiOkResponse({ type: RevokedOwnerKeys })
  async revokeOwner(@Param('ownerId') ownerId: string): Promise<RevokedOwnerKeys> {
    return { ownerId, revoked: await run(() => this.keys.revokeOwner(ownerId)) };
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key', description: 'The key stops working at once, on every instance.' })
  @ApiParam(KEY_ID)
  @ApiOkResponse({ type: ApiKeyView })
  @ApiNotFoundResponse({ description: 'No key with this id.' })
  @ApiConflictResponse({ description: 'The key is already revoked.' })
  async revoke(@Param('id') id: string): Promise<ApiKeyView> {
    return view(await run(() => this.keys.revoke(id)));
  }

  @Post(':id/rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate a key',
    description: 'A new secret for the same key id; the previous one works for the grace period.',
  })
  @ApiParam(KEY_ID)
  @ApiOkResponse({ type: RotatedKey })
  @ApiNotFoundResponse({ description: 'No key with this id.' })
  @ApiConflictResponse({ description: 'The key is revoked.' })
  async rotate(@Param('id') id: string, @Body() body: RotateKey): Promise<RotatedKey> {
    const seconds = body?.gracePeriodSeconds ?? 0;
    if (typeof seconds !== 'number') throw new BadRequestException('gracePeriodSeconds must be a number');
    const { key, apiKey, previousSecretsExpireAt } = await run(() =>
      this.keys.rotate(id, { gracePeriodMs: seconds * 1000, expiresAt: dateOf(body?.expiresAt) }),
    );
    return { key, apiKey: view(apiKey), previousSecretsExpireAt };
  }
}

/** The fields an admin sees: everything but the version counter. */
function view({ version: _version, ...key }: StoredApiKey) {
  return key;
}

/** A body's date-time (or `null`, or absent) as the service takes it; the service refuses an invalid one. */
function dateOf(value: unknown): Date | null | undefined {
  return value === undefined || value === null ? value : new Date(String(value));
}

/** Runs a service call, turning its lifecycle errors into HTTP errors. */
async function run<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ApiKeyLifecycleError)) throw error;
    const message = error.message.replace(/^nestjs-api-key: /, '');
    if (error.code === 'not_found') throw new NotFoundException(message);
    if (error.code === 'invalid_input') throw new BadRequestException(message);
    if (error.code === 'conflict' || error.code === 'revoked' || error.code === 'owner_limit_reached')
      throw new ConflictException(message);
    if (error.code === 'store_failed')
      throw new ServiceUnavailableException('The key store failed; the change may or may not have been applied');
    throw error;
  }
}
