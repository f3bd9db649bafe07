import { Resolver, Query, Subscription } from '@nestjs/graphql';
import { ApiKey, RequireScopes, type ApiKeyPrincipal } from 'nestjs-api-key';

/** The GraphQL endpoint's schema: who am I, and a clock for subscriptions. */
export const typeDefs = /* GraphQL */ `
  type Principal {
    id: String!
    name: String!
    scopes: [String!]!
    ownerId: String
  }
  type Query {
    "The calling key, as on GET /me: any valid key."
    me: Principal!
  }
  type Subscription {
    "The server's time every second, to keys with catalogue:read."
    clock: String!
  }
`;

/** The same global guard as the REST routes: a key for every field, scopes where declared. */
@Resolver()
export class AccountResolver {
  @Query('me')
  me(@ApiKey() key: ApiKeyPrincipal): ApiKeyPrincipal {
    return key;
  }

  @Subscription('clock')
  @RequireScopes('catalogue:read')
  async *clock() {
    for (;;) {
      yield { clock: new Date().toISOString() };
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
