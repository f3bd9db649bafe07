import { Controller, HttpCode, Inject, Post, Req, SetMetadata, type Type } from '@nestjs/common';
import { Public } from '../guard/public.decorator.js';
import { ApiKeyLeakReceiver, type LeakReportRequest, type SecretScanningFeedback } from './api-key-leak.receiver.js';

/**
 * `@ApiExcludeController()` of `@nestjs/swagger`, written without importing it (an optional
 * peer): the receiver is GitHub's webhook, not an operation of the application's API, so it stays
 * out of the OpenAPI document and of the clients generated from it.
 */
const ExcludedFromOpenApi = SetMetadata('swagger/apiExcludeController', [true]);

/**
 * The controller that receives reports at `path`: `POST`, public (a globally registered
 * `ApiKeyGuard` lets it through: GitHub's signature is its authentication), answered 200 with
 * the feedback, and left out of the OpenAPI document.
 */
export function leakReportController(path: string): Type {
  @Public()
  @ExcludedFromOpenApi
  @Controller(path)
  class ApiKeyLeakReportController {
    constructor(@Inject(ApiKeyLeakReceiver) private readonly receiver: ApiKeyLeakReceiver) {}

    @Post()
    @HttpCode(200)
    receive(@Req() request: LeakReportRequest): Promise<SecretScanningFeedback[]> {
      return this.receiver.receive(request);
    }
  }
  return ApiKeyLeakReportController;
}
