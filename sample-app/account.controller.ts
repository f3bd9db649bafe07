import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ApiKey, type ApiKeyPrincipal } from 'nestjs-api-key';
import { Principal } from './account.dto.js';

/** Any valid key may call this: the global guard applies, with no scope requirement. */
@Controller('me')
export class AccountController {
  @Get()
  @ApiOperation({
    summary: 'Who am I',
    description: 'The calling key as the guard sees it: any valid key may call this.',
  })
  @ApiOkResponse({ type: Principal })
  whoami(@ApiKey() key: ApiKeyPrincipal): ApiKeyPrincipal {
    return key;
  }
}
