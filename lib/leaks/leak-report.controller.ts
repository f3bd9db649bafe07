import { Controller, HttpCode, Inject, Post, Req, type Type } from '@nestjs/common';
import { Public } from '../guard/public.decorator.js';
import { ApiKeyLeakReceiver, type LeakReportRequest, type SecretScanningFeedback } from './api-key-leak.receiver.js';

/**
 * The controller that receives reports at `path`: `POST`, public (a globally registered
 * `ApiKeyGuard` lets it through: GitHub's signature is its authentication), answered 200 with
 * the feedback.
 */
export function leakReportController(path: string): Type {
  @Public()
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
