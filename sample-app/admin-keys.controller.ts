import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyLifecycleError,
  ApiKeyService,
  RequireScopes,
  type StoredApiKey,
} from 'nestjs-api-key';

interface CreateKeyBody {
  name?: unknown;
  scopes?: unknown;
  metadata?: unknown;
  expiresAt?: unknown;
}

/**
 * Key management over HTTP, for keys holding the `admin` scope: create, list, revoke and
 * rotate through `ApiKeyService`. Plaintext keys appear only in the create and rotate
 * responses; lists show public ids and state, never a secret.
 */
@Controller('admin/keys')
@UseGuards(ApiKeyGuard)
@RequireScopes('admin')
export class AdminKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  async create(@Body() body: CreateKeyBody, @ApiKey('id') adminId: string) {
    const expiresAt =
      body?.expiresAt === undefined || body.expiresAt === null ? null : new Date(String(body.expiresAt));
    const { key, apiKey } = await run(() =>
      this.keys.create({
        name: body?.name as string,
        scopes: (body?.scopes ?? []) as string[],
        metadata: (body?.metadata ?? {}) as Record<string, unknown>,
        ownerId: adminId,
        expiresAt,
      }),
    );
    return { key, apiKey: view(apiKey) };
  }

  @Get()
  async list(@Query('after') after?: string, @Query('limit') limit?: string) {
    const keys = await run(() => this.keys.list({ after, limit: limit === undefined ? 100 : Number(limit) }));
    return keys.map(view);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  async revoke(@Param('id') id: string) {
    return view(await run(() => this.keys.revoke(id)));
  }

  @Post(':id/rotate')
  @HttpCode(200)
  async rotate(@Param('id') id: string, @Body() body: { gracePeriodSeconds?: unknown }) {
    const seconds = body?.gracePeriodSeconds ?? 0;
    if (typeof seconds !== 'number') throw new BadRequestException('gracePeriodSeconds must be a number');
    const { key, apiKey, previousSecretsExpireAt } = await run(() =>
      this.keys.rotate(id, { gracePeriodMs: seconds * 1000 }),
    );
    return { key, apiKey: view(apiKey), previousSecretsExpireAt };
  }
}

/** The fields an admin sees: everything but the version counter. */
function view({ version: _version, ...key }: StoredApiKey) {
  return key;
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
    if (error.code === 'conflict' || error.code === 'revoked') throw new ConflictException(message);
    if (error.code === 'store_failed')
      throw new ServiceUnavailableException('The key store failed; the change may or may not have been applied');
    throw error;
  }
}
