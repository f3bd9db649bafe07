import { Controller, Get } from '@nestjs/common';
import { ApiKey, type ApiKeyPrincipal } from 'nestjs-api-key';

/** Any valid key may call this: the global guard applies, with no scope requirement. */
@Controller('me')
export class AccountController {
  @Get()
  whoami(@ApiKey() key: ApiKeyPrincipal): ApiKeyPrincipal {
    return key;
  }
}
