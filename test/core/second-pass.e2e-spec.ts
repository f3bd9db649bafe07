import { afterAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Injectable,
  Module,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import request from 'supertest';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyHasher,
  ApiKeyModule,
  InMemoryApiKeyStore,
  RequireScopes,
  type ApiKeyPrincipal,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { platforms, startApp } from '../support/platforms.js';

const PEPPER = 'second-pass-pepper-0000001';
const KEY = 'second-pass-reader-key-0001';

/** Counts the store's lookups, to show how often a request is verified. */
class CountingRepository extends InMemoryApiKeyStore {
  lookups = 0;
  override findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.lookups++;
    return super.findByHash(hash);
  }
}

/** A guard that runs before ApiKeyGuard and puts a made-up principal with every scope on the request. */
@Injectable()
class ForgingGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const forged: ApiKeyPrincipal = {
      id: 'admin',
      name: 'admin',
      scopes: ['orders:read', 'orders:write'],
      ownerId: null,
      metadata: {},
    };
    (context.switchToHttp().getRequest() as { apiKey?: unknown }).apiKey = forged;
    return true;
  }
}

@Controller('orders')
@UseGuards(ApiKeyGuard)
class OrdersController {
  @Get()
  @RequireScopes('orders:read')
  list(@ApiKey('id') id: string) {
    return { id };
  }

  @Get('write')
  @RequireScopes('orders:write')
  write(@ApiKey('id') id: string) {
    return { id };
  }
}

describe.each(platforms)(
  'a request the guard sees twice, or with a principal it did not issue, on $name',
  (platform) => {
    const apps: INestApplication[] = [];
    afterAll(() => Promise.all(apps.map((app) => app.close())));

    const start = async (first: 'api-key' | 'forging') => {
      const repository = new CountingRepository([
        { id: 'reader', name: 'reader', hash: new ApiKeyHasher([PEPPER]).hash(KEY), scopes: ['orders:read'] },
      ]);
      const app = await startApp(
        {
          imports: [ApiKeyModule.forRoot({ pepper: PEPPER, repository })],
          controllers: [OrdersController],
          providers: [{ provide: APP_GUARD, useClass: first === 'api-key' ? ApiKeyGuard : ForgingGuard }],
        },
        platform,
      );
      apps.push(app);
      return { server: app.getHttpServer(), repository };
    };

    it("a global ApiKeyGuard plus @UseGuards(ApiKeyGuard) verifies the key once and checks each pass's scopes", async () => {
      const { server, repository } = await start('api-key');
      await request(server).get('/orders').set('X-API-Key', KEY).expect(200, { id: 'reader' });
      expect(repository.lookups).toBe(1);
      await request(server).get('/orders/write').set('X-API-Key', KEY).expect(403);
      expect(repository.lookups).toBe(2);
      await request(server).get('/orders').expect(401);
    });

    it('a principal-shaped object another guard put on request.apiKey does not authenticate the request', async () => {
      const { server, repository } = await start('forging');
      await request(server).get('/orders').expect(401);
      await request(server).get('/orders/write').set('X-API-Key', 'unknown-key-of-valid-shape-01').expect(401);
      await request(server).get('/orders/write').set('X-API-Key', KEY).expect(403);
      await request(server).get('/orders').set('X-API-Key', KEY).expect(200, { id: 'reader' });
      expect(repository.lookups).toBe(3);
    });

    it("a principal another ApiKeyModule instance issued does not pass this one's guard unverified", async () => {
      const staff = { name: 'staff', key: 'staff-key-of-the-front-door-01', scopes: ['orders:read'] };
      const partner = { name: 'partner', key: 'partner-key-of-the-partner-api1', scopes: ['orders:read'] };
      const both = { name: 'both', key: 'key-in-both-key-sets-000000001', scopes: ['orders:read'] };
      // Every route behind the front door's key set (a global guard); the partner API behind its own as well.
      @Module({
        imports: [ApiKeyModule.forRoot({ keys: [staff, both] })],
        providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
      })
      class FrontDoorModule {}
      @Controller('partners')
      @UseGuards(ApiKeyGuard)
      class PartnersController {
        @Get()
        get(@ApiKey('id') id: string) {
          return { id };
        }
      }
      @Module({ imports: [ApiKeyModule.forRoot({ keys: [partner, both] })], controllers: [PartnersController] })
      class PartnersModule {}
      const app = await startApp({ imports: [FrontDoorModule, PartnersModule] }, platform);
      apps.push(app);
      const server = app.getHttpServer();
      await request(server).get('/partners').set('X-API-Key', staff.key).expect(401);
      await request(server).get('/partners').set('X-API-Key', partner.key).expect(401);
      await request(server).get('/partners').set('X-API-Key', both.key).expect(200, { id: 'both' });
    });
  },
);
