import {
  Controller,
  Get,
  HttpCode,
  Injectable,
  Post,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiOperation, ApiResponse, ApiSecurity } from '@nestjs/swagger';
import { ApiKeyGuard, Public, RequireAnyScope, RequireScopes } from 'nestjs-api-key';
import { SkipRateLimit } from 'nestjs-api-key/rate-limit';
import { ApiKeyAuth } from 'nestjs-api-key/swagger';

/** A subclass of the guard: still an API key guard for the document. */
@Injectable()
export class AuditedApiKeyGuard extends ApiKeyGuard {}

/** `@UseGuards` on the class, every scope form, and user annotations that must survive. */
@Controller('class-guarded')
@UseGuards(ApiKeyGuard)
export class ClassGuardedController {
  @Get()
  plain() {}

  @Get('all')
  @RequireScopes('orders:read', 'orders:write')
  @ApiOperation({ description: 'Lists orders.' })
  @ApiExtension('x-team', 'orders')
  all() {}

  @Get('any')
  @RequireAnyScope('orders:write', 'reports:read')
  @ApiResponse({ status: 401, description: 'Our own 401 text' })
  any() {}

  @Get('public')
  @Public()
  open() {}

  @Get('with-jwt')
  @ApiBearerAuth('jwt')
  withJwt() {}
}

/** `@UseGuards` on one method only. */
@Controller('method-guarded')
export class MethodGuardedController {
  @Get('guarded')
  @UseGuards(ApiKeyGuard)
  guarded() {}

  @Get('open')
  @ApiSecurity('api-key')
  open() {}

  @Get('jwt-only')
  @ApiBearerAuth('jwt')
  @ApiSecurity('api-key')
  jwtOnly() {}

  @Post('created')
  @UseGuards(ApiKeyGuard)
  created() {}

  @Post('accepted')
  @HttpCode(202)
  @UseGuards(ApiKeyGuard)
  accepted() {}
}

/** A class-level requirement of another scheme: it stays in force, combined with the key's where guarded. */
@Controller('class-jwt')
@ApiBearerAuth('jwt')
export class ClassSecurityController {
  @Get('guarded')
  @UseGuards(ApiKeyGuard)
  guarded() {}

  @Get('jwt')
  jwt() {}
}

/** A guard subclass, a class-level scope and a handler that replaces it. */
@Controller('subclass')
@UseGuards(AuditedApiKeyGuard)
@RequireScopes('reports:read')
export class SubclassGuardedController {
  @Get()
  reports() {}

  @Get('admin')
  @RequireScopes('admin')
  admin() {}
}

/** `@Public()` on the class wins over `@UseGuards`. */
@Controller('public-class')
@Public()
@UseGuards(ApiKeyGuard)
export class PublicClassController {
  @Get()
  open() {}
}

/** A guard that delegates to ApiKeyGuard instead of extending it: invisible to the scanner. */
@Injectable()
export class DelegatingGuard implements CanActivate {
  constructor(private readonly apiKeyGuard: ApiKeyGuard) {}
  canActivate(context: ExecutionContext) {
    return this.apiKeyGuard.canActivate(context);
  }
}

/** Documented as guarded by `@ApiKeyAuth()`, `@Public()` still winning. */
@Controller('annotated')
@UseGuards(DelegatingGuard)
@ApiKeyAuth()
export class AnnotatedController {
  @Get()
  list() {}

  @Get('public')
  @Public()
  open() {}
}

/** For the app with a global guard. */
@Controller('global')
export class GlobalController {
  @Get()
  plain() {}

  @Get('any')
  @RequireAnyScope('a', 'b')
  any() {}

  @Get('all')
  @RequireScopes('a', 'b')
  all() {}

  @Get('public')
  @Public()
  open() {}
}

/** A public controller under the global guard. */
@Controller('global-public')
@Public()
export class GlobalPublicController {
  @Get()
  open() {}
}

/** One handler, inherited by a guarded and an unguarded controller. */
export class BaseController {
  @Get()
  list() {}
}

@Controller('inherited-guarded')
@UseGuards(ApiKeyGuard)
export class InheritedGuardedController extends BaseController {}

@Controller('inherited-open')
export class InheritedOpenController extends BaseController {}

/** Guarded, with one route outside the rate limits. */
@Controller('limited')
@UseGuards(ApiKeyGuard)
export class RateLimitedController {
  @Get()
  limited() {}

  @Get('unlimited')
  @SkipRateLimit()
  unlimited() {}
}
