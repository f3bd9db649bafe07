import { Controller, Get } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Public } from 'nestjs-api-key';
import { ApiKeyHealthIndicator } from 'nestjs-api-key/health';

/**
 * `GET /health`, for load balancers and orchestrators: 200 when the key store answers, changes
 * made on other instances are heard (PostgreSQL) and the rate-limit store answers (Redis), else
 * 503 naming what is down. Public: a probe has no key, and the answer holds none.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly apiKeys: ApiKeyHealthIndicator,
  ) {}

  @Get()
  @Public()
  @HealthCheck()
  @ApiOperation({
    summary: 'Health check',
    description:
      'The key store, the change feed and the rate-limit store: 200 when all answer, else 503 naming what is down.',
  })
  check() {
    return this.health.check([
      () => this.apiKeys.checkStore(),
      () => this.apiKeys.checkChangeFeed(),
      () => this.apiKeys.checkRateLimit(),
    ]);
  }
}
