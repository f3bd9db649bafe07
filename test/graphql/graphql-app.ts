import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { ApiKey, ApiKeyGuard, Public, RequireScopes, type ApiKeyPrincipal } from 'nestjs-api-key';

/** The schema of the GraphQL test apps (schema-first, so both drivers share it as is). */
export const typeDefs = /* GraphQL */ `
  type Principal {
    id: String!
    name: String!
    scopes: [String!]!
    ownerId: String
  }
  type Order {
    id: String!
    secretNote: String!
  }
  type Query {
    whoami: Principal!
    owner: String
    orders: [Order!]!
    health: String!
  }
  type Mutation {
    placeOrder(id: String!): Order!
  }
  type Subscription {
    ticks: Int!
    subscriber: String!
  }
`;

/** Resolvers guarded at class level, with scopes on some handlers and one `@Public()` query. */
@Resolver()
@UseGuards(ApiKeyGuard)
export class OrdersResolver {
  @Query('whoami')
  whoami(@ApiKey() principal: ApiKeyPrincipal) {
    return principal;
  }

  @Query('owner')
  owner(@ApiKey('ownerId') ownerId: string | null) {
    return ownerId;
  }

  @Query('orders')
  @RequireScopes('orders:read')
  orders() {
    return [{ id: 'order-1' }];
  }

  @Query('health')
  @Public()
  health() {
    return 'ok';
  }

  @Mutation('placeOrder')
  @RequireScopes('orders:write')
  placeOrder(@Args('id') id: string) {
    return { id };
  }
}

/** A field resolver with its own scope (guards on fields need `fieldResolverEnhancers: ['guards']`). */
@Resolver('Order')
@UseGuards(ApiKeyGuard)
export class OrderFieldsResolver {
  @ResolveField('secretNote')
  @RequireScopes('orders:notes')
  secretNote() {
    return 'note';
  }
}

/** A subscription that ticks until the client or the server ends it. */
@Resolver()
@UseGuards(ApiKeyGuard)
export class TicksResolver {
  @Subscription('ticks')
  @RequireScopes('orders:read')
  async *ticks() {
    for (let tick = 0; ; tick++) {
      yield { ticks: tick };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  @Subscription('subscriber')
  async *subscriber(@ApiKey('name') name: string) {
    yield { subscriber: name };
  }
}
